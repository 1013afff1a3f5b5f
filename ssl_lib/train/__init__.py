"""Pretraining: one config, one engine, one run folder.

    config    TrainConfig: every setting of a run (the model's fields and data, optimiser, runtime)
    engine    train(cfg): one process or torchrun DDP, resumable, kNN-monitored
    run_dir   RunDir: the files of a run folder and how to load them
    optim     SGD / LARS with warm-up and cosine decay
    cli       the `python -m ssl_lib.pretrain` command
"""
