"""Published split manifests of the registered benchmarks (seed 0), one JSON file each."""
