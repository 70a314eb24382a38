"""Pure builders: names and tags, subnet layout, IAM and RBAC documents, nodeadm user data, Admiralty objects, kubeconfigs."""
