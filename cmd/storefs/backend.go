package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/store/config"
)

// backendFlags are the same on every command that opens a store.
func backendFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data-dir", Usage: "a Piri `DIR` (data_dir): flatfs blobs in pdp/datastore, LevelDB records", Category: "Backend"},
		&cli.StringFlag{Name: "s3-endpoint", Usage: "S3 server `HOST:PORT`", Category: "Backend"},
		&cli.StringFlag{Name: "s3-bucket-prefix", Usage: "Piri's bucket_prefix (blobs are in <prefix>pdp)", Category: "Backend"},
		&cli.BoolFlag{Name: "s3-insecure", Usage: "use plain http for S3", Category: "Backend"},
		&cli.StringFlag{Name: "s3-access-key-id", Usage: "S3 access key (default: $AWS_ACCESS_KEY_ID)", Category: "Backend"},
		&cli.StringFlag{Name: "s3-secret-access-key", Usage: "S3 secret key (default: $AWS_SECRET_ACCESS_KEY)", Category: "Backend"},
		&cli.StringFlag{Name: "config", Usage: "a Piri config TOML `FILE`: its [repo] section selects the backend", Category: "Backend"},
		&cli.BoolFlag{Name: "memory", Usage: "an empty in-memory store (the default when no backend is named)", Category: "Backend"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "bound on each backend request", Category: "Backend"},
	}
}

// backendConfig reads the backend flags. Credentials come from flags or
// the environment, never from defaults shown in --help.
func backendConfig(c *cli.Context, writable bool) (config.Config, error) {
	named := 0
	for _, f := range []string{"data-dir", "s3-endpoint", "config", "memory"} {
		if c.IsSet(f) {
			named++
		}
	}
	if named > 1 {
		return config.Config{}, usagef("name one backend: --data-dir, --s3-endpoint, --config or --memory")
	}
	var cfg config.Config
	switch {
	case c.IsSet("config"):
		var err error
		if cfg, err = config.LoadPiri(c.String("config")); err != nil {
			return config.Config{}, err
		}
	case c.IsSet("data-dir"):
		cfg.DataDir = c.String("data-dir")
	case c.IsSet("s3-endpoint"):
		cfg.S3 = &config.S3{
			Endpoint:        c.String("s3-endpoint"),
			BucketPrefix:    c.String("s3-bucket-prefix"),
			Insecure:        c.Bool("s3-insecure"),
			AccessKeyID:     firstSet(c.String("s3-access-key-id"), os.Getenv("AWS_ACCESS_KEY_ID")),
			SecretAccessKey: firstSet(c.String("s3-secret-access-key"), os.Getenv("AWS_SECRET_ACCESS_KEY")),
		}
	}
	for _, f := range []string{"s3-bucket-prefix", "s3-insecure", "s3-access-key-id", "s3-secret-access-key"} {
		if c.IsSet(f) && !c.IsSet("s3-endpoint") {
			return config.Config{}, usagef("--%s needs --s3-endpoint", f)
		}
	}
	cfg.Writable = writable
	cfg.Timeout = c.Duration("timeout")
	return cfg, nil
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// openStores opens the backend the flags name.
func openStores(c *cli.Context, writable bool) (*config.Stores, error) {
	cfg, err := backendConfig(c, writable)
	if err != nil {
		return nil, err
	}
	stores, err := config.Open(c.Context, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg, err)
	}
	return stores, nil
}
