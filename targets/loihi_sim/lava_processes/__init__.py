"""Our Lava processes and their process models, alone in this package: lava searches the package of
a process for its models by executing every module in it."""
