"""The reproduction machinery: sizes, named models, shared runs, recorded results, verdicts, the report.

    profiles      smoke / cpu / long / gpu: every size of a reproduction in one place
    experiments   the models the notebooks train, by name
    runs          get_or_train: one folder per config, reused across notebooks
    prepare       the runs of the chosen notebooks, trained and probed ahead by worker processes
    plan          what a reproduction will train, how long and how much disk, before it starts
    results       record / recorder: what a notebook measured, on disk
    validity      whether the bench can show an effect at all (content and headroom floors)
    verdicts      paired claims over seeds, the fixed verdict rule and its forest plot
    runner        papermill over the notebooks (`python -m ssl_lib.reproduce`)
    html_report   the offline HTML report

The notebooks' teaching aids (each paper's mechanism on one batch, the explorer, the figures)
are `ssl_lib.teaching`.
"""
