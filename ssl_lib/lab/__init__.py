"""The notebooks' machinery: sizes, named models, shared runs, recorded results, verdicts, figures.

    profiles      smoke / cpu / gpu: every size of a reproduction in one place
    experiments   the models the notebooks train, by name
    runs          get_or_train: one folder per config, reused across notebooks
    prepare       the runs of the chosen notebooks, trained and probed ahead by worker processes
    results       record / recorder: what a notebook measured, on disk
    verdicts      paired claims over seeds and the fixed verdict rule
    mechanisms    each paper's mechanism on one batch (the notebooks' teaching sections)
    runner        papermill over the notebooks (`python -m ssl_lib.reproduce`)
    html_report   the offline HTML report
    figures       plotly helpers
    explorer      the widget-driven augmentation explorer of notebook 01
"""
