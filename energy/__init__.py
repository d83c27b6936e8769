"""Energy stage: operation counts per layer and their cost under hardware energy profiles."""
