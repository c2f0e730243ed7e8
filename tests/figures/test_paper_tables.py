"""rdtheory.figures.paper_tables: the paper's tables agree with the cost module's copy of Table 1."""

from rdtheory.costs.table1 import TABLE1_TOKENS_PER_S
from rdtheory.figures.paper_tables import TABLE1, TABLE2


def test_paper_tables_agree_with_the_cost_module():
    rows = {r.knobs: r.tokens_per_s for r in TABLE1 if r.knobs is not None}
    assert rows == dict(TABLE1_TOKENS_PER_S)
    assert all(len(r.accuracy) == len(r.tokens_per_s) == 4 for r in TABLE1)
    assert TABLE2["Huginn-0125"][0].tokens_per_s[0] == TABLE1[0].tokens_per_s[0]
