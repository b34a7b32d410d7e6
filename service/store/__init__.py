"""All SQL lives here, in functions named by intent. Callers pass a Connection from Database.read()/write()."""
