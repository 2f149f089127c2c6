"""``pf-tui watch-jobs``: the Kubernetes Job operator.

It watches the ``batch/v1`` Jobs of one namespace. A Job annotated ``purpleflea.com/escrow-id``
has that escrow released when it completes and disputed when it fails, through the same money
core as the console (:class:`~pf_tui.ops.session.OpsSession`), exactly once per Job uid and
outcome; the outcome is written back onto the Job as annotations (:mod:`pf_tui.jobs.contract`).

- :mod:`~pf_tui.jobs.contract`: the annotation contract, pure (what a Job asks, what is written).
- :mod:`~pf_tui.jobs.kube`: the Kubernetes side (config, list and watch in a thread, patch).
- :mod:`~pf_tui.jobs.operator`: the loop: a Job event in, a money intent, an annotation out.
"""
