"""Evidence for each contravention: the untouched original segment, a browser-playable review copy
with a burned-in data bar, stills, metadata and a manifest of sha256 hashes; verification and
retention.

The batch calls :func:`evidence.writer.write_case` once per new contravention; the command line is
``buslane evidence verify`` and ``buslane retention apply``. See evidence/README.md.
"""
