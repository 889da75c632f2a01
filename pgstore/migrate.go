package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrationFiles are the schema's versions, applied in order: NNNN_name.sql.
// A released file is never edited; a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("pgstore: migration %s: name must be NNNN_name.sql", base)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: strings.TrimSuffix(base, ".sql"), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("pgstore: two migrations have version %d", ms[i].version)
		}
	}
	return ms, nil
}

// Migrate brings the store's schema up to date: it creates the schema if
// needed and applies, in order, every embedded migration that its
// schema_migrations table does not list. Everything happens in one
// transaction under a transaction-level advisory lock named after the
// schema, so processes starting at once migrate exactly once (the others
// wait, then find nothing to do), and a failed migration leaves nothing
// half-applied (PostgreSQL's DDL is transactional). Open calls it.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.migrate(ctx)
	return err
}

// migrate is Migrate; it returns how many migrations this call applied.
func (s *Store) migrate(ctx context.Context) (applied int, err error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
			"jobartifacts/pgstore migrate "+s.schema); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		schema := pgx.Identifier{s.schema}.Sanitize()
		// Created only when missing: CREATE … IF NOT EXISTS checks the
		// privilege first, and a role may run on a schema an admin made.
		var schemaExists, tableExists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
			to_regclass($2) IS NOT NULL`, s.schema, schema+".schema_migrations").Scan(&schemaExists, &tableExists); err != nil {
			return err
		}
		if !schemaExists {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
				return fmt.Errorf("create schema: %w", err)
			}
		}
		// The migrations name their tables without a schema.
		if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+schema); err != nil {
			return err
		}
		if !tableExists {
			if _, err := tx.Exec(ctx, `CREATE TABLE schema_migrations (
				version    integer     PRIMARY KEY,
				name       text        NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
		}
		rows, _ := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		done, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied = 0
		for _, m := range ms {
			if slices.Contains(done, m.version) {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`,
				m.version, m.name); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
			applied++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pgstore: migrate schema %q: %w", s.schema, err)
	}
	return applied, nil
}
