"""The Gradio app, one module per tab (layout, wiring and thin handlers; the work is in explorer.actions).

    app.py       lays out the header and the tabs, wires them, launches
    session.py   one page's state (the Session): the shown models, the pin, the link, uploads, the job
    page.py      the components by name, and how a handler's answer (a dict by name) reaches them
    share.py     the view in the address bar, both ways
    media.py     pictures, GIFs and zips the app makes (temp files that expire)
    models.py    the registry every page shares, the classifier, the picker's names for models
    header.py    title, lesson, report card, the controls every tab reads, opening a page
    planes.py scatter.py grids.py reconstructions.py traversal.py samples.py conditional.py clusters.py
    train.py (+ train_jobs.py, train_view.py, saved_runs.py) add_model.py gifs.py: the tabs
"""