// Package config owns s3xproxy's YAML configuration: the schema, its
// defaults, ${ENV} expansion, validation with file:line:key errors, and
// loading for reload.
//
// It is plain data: it must not import proxy, session or signing. cmd maps a
// loaded Config onto those packages' Options structs.
package config
