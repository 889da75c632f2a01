// Package tokenauth is a ready-made jobartifacts.Authorizer for tests, demos
// and the example server: users with personal or OAuth tokens and a GitLab
// role per project, and job tokens of running jobs.
//
// # Authentication
//
// PRIVATE-TOKEN values match users' tokens only, JOB-TOKEN values job tokens
// only, and Authorization: Bearer values a user's token first, else a job
// token. An unknown or expired token, or the token of a job that is not
// running, is 401. A job is looked up in the MetadataStore given to New each
// time its token is used, so a token stops working when its job finishes.
//
// # Authorization
//
// Authorizer.Authorize follows GitLab's rules for job artifacts
// (https://docs.gitlab.com/user/permissions/):
// visibility first (a project the principal may not see is hidden, 404),
// then roles (Reporter reads, Developer keeps, Maintainer deletes), public
// pipelines, artifacts:access, and the job token allowlist. Projects'
// CIJobTokenScopeEnabled is not consulted: the allowlist always applies.
//
// # Configuration
//
// Users and job tokens are added with AddUser and AddJobToken, at any time,
// or from a JSON file with LoadConfig and Apply.
package tokenauth
