"""The Albums tag: ``read`` (list, get, statistics, map markers), ``edit`` (create, update,
delete), ``assets`` (adding and removing assets, one album or many) and ``members``."""
