"""After the decision: validated cases handed to penalty processing and to the DVLA keeper enquiry.

    buslane export pcn --db PATH --format csv --out pcn.csv            # export.pcn
    buslane export keeper-enquiry --db PATH --out keeper.csv --foreign foreign.csv   # export.keeper

Every export is a row of the `exports` table (export.schema), chained in the history like a decision
(export.record).
"""
