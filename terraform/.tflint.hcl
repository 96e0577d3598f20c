# tflint with every rule of the bundled Terraform ruleset (naming, documented and typed
# variables and outputs, unused declarations, standard module structure, pinned providers).
plugin "terraform" {
  enabled = true
  preset  = "all"
}
