// The real node's extra binaries that do not come from k8s.io/kubernetes: the
// pod sandbox `pause` (built from this module) and, pinned in build.sh and
// built with `go install <module>@<version>` so their dependency graphs never
// meet Kubernetes' or each other's, CoreDNS and crictl.
module sd-gitops-bootstrap/test/cluster/tools/node

go 1.26.0
