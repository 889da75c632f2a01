// Package clienttest proves that real GitLab API clients work unchanged
// against the jobartifacts handler. Its tests drive GitLab's Go client
// (gitlab.com/gitlab-org/api/client-go) through every Job Artifacts method,
// in its last v1 release and in its current major version, v2.
//
// It is a module of its own, so that the client and its dependencies never
// become dependencies of jobartifacts itself. The Python, JavaScript and curl
// suites live in the repository's clients directory.
package clienttest
