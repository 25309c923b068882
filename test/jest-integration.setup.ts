// Integration tests talk to a real broker and databases; jest ignores a project-level testTimeout, so set it here.
jest.setTimeout(120_000);
