/** Who made a request: the name of the API token used (recorded as requestedBy / creator). */
export interface Actor {
  name: string;
}
