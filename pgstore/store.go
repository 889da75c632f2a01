package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ciartifacts/jobartifacts"
)

// DefaultSchema is the PostgreSQL schema that holds the store's tables
// unless WithSchema names another.
const DefaultSchema = "jobartifacts"

// Store is a jobartifacts.MetadataStore on PostgreSQL, and a
// jobartifacts.ProjectJobReader. It also has the seeding methods
// PutProject, PutPipeline and PutJob (storetest.Seeder).
// Every method is one statement or one short transaction, atomic across
// every process that shares the database. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool
	schema  string
	q       queries
}

var (
	_ jobartifacts.MetadataStore    = (*Store)(nil)
	_ jobartifacts.ProjectJobReader = (*Store)(nil)
)

// Option configures a Store.
type Option func(*config)

type config struct {
	schema string
}

// WithSchema puts the store's tables in the named schema (default
// DefaultSchema), which Migrate creates if needed. Tests give each store its
// own; every replica of one deployment must use the same.
func WithSchema(name string) Option {
	return func(c *config) {
		if name != "" {
			c.schema = name
		}
	}
}

// Open connects to the database named by dsn (a PostgreSQL connection
// string or URL, as pgxpool.ParseConfig takes; pool_max_conns sizes the
// pool), migrates the schema (Migrate) and returns the store. Close closes
// its pool.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s := New(pool, opts...)
	s.ownPool = true
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// New returns a store over a pool that the caller owns and closes. It does
// not touch the database: call Migrate once before use (Open does both).
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	c := config{schema: DefaultSchema}
	for _, o := range opts {
		o(&c)
	}
	return &Store{pool: pool, schema: c.schema, q: newQueries(c.schema)}
}

// Close closes the pool if Open made it; a pool given to New is the
// caller's to close.
func (s *Store) Close() {
	if s.ownPool {
		s.pool.Close()
	}
}

// notFound wraps jobartifacts.ErrNotFound with what was looked for.
func notFound(format string, args ...any) error {
	return fmt.Errorf("pgstore: "+format+": %w", append(args, jobartifacts.ErrNotFound)...)
}

// wrap prefixes a database error with the operation, mapping "no rows" to
// ErrNotFound.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(format, args...)
	}
	return fmt.Errorf("pgstore: "+format+": %w", append(args, err)...)
}

// isUniqueViolation reports a unique_violation (SQLSTATE 23505).
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// isForeignKeyViolation reports a foreign_key_violation (SQLSTATE 23503).
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
