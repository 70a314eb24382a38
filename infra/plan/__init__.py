"""The offline plan: mock harness, program evaluation, report sections, Kubernetes manifests, offline policy run."""
