"""Evidence packs for appeals: one ZIP per validated case that an adjudicator can read and check offline.

:func:`evidence.pack.builder.build_pack` makes one (the review app's case page and
``buslane pack ID --db PATH --out FILE.zip`` call it); :func:`evidence.pack.verify.verify_pack`
checks one (``buslane pack verify FILE.zip [--db PATH]``). See evidence/pack/README.md.
"""
