package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Topology says how to reach Redis beyond the URL: through Sentinel, or as a Cluster. The zero
// value is one server at the URL.
type Topology struct {
	// SentinelMaster names the master set; setting it connects through Sentinel. The sentinels
	// are SentinelAddrs, or the URL's host when that is empty. The URL's credentials, database
	// and TLS apply to the master.
	SentinelMaster   string
	SentinelAddrs    []string
	SentinelPassword string
	// ClusterAddrs are seed nodes; setting them connects to a Cluster with the URL's credentials
	// and TLS (its host is not used, and its database must be 0, the only one a Cluster has).
	ClusterAddrs []string
}

// Connect builds a client from a redis:// or rediss:// URL (with user, password, database and
// go-redis's query options) and the topology, and pings it so that a wrong address fails at
// start-up rather than at the first message. The URL is kept out of errors: it may hold a password.
func Connect(ctx context.Context, rawURL string, topo Topology) (goredis.UniversalClient, error) {
	if topo.SentinelMaster != "" && len(topo.ClusterAddrs) > 0 {
		return nil, errors.New("redis: both sentinel and cluster set")
	}
	o, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis: parse url: %w", redactURLError(err))
	}
	var c goredis.UniversalClient
	switch {
	case topo.SentinelMaster != "":
		sentinels := topo.SentinelAddrs
		if len(sentinels) == 0 {
			sentinels = []string{o.Addr}
		}
		c = goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName:       topo.SentinelMaster,
			SentinelAddrs:    sentinels,
			SentinelPassword: topo.SentinelPassword,
			Username:         o.Username,
			Password:         o.Password,
			DB:               o.DB,
			TLSConfig:        o.TLSConfig,
			DialTimeout:      o.DialTimeout,
			ReadTimeout:      o.ReadTimeout,
			WriteTimeout:     o.WriteTimeout,
			PoolSize:         o.PoolSize,
			DisableIdentity:  true,
		})
	case len(topo.ClusterAddrs) > 0:
		if o.DB != 0 {
			return nil, fmt.Errorf("redis: cluster has only database 0, url names %d", o.DB)
		}
		c = goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs:        topo.ClusterAddrs,
			Username:     o.Username,
			Password:     o.Password,
			TLSConfig:    o.TLSConfig,
			DialTimeout:  o.DialTimeout,
			ReadTimeout:  o.ReadTimeout,
			WriteTimeout: o.WriteTimeout,
			PoolSize:     o.PoolSize,
			// CLIENT SETINFO on every new connection is an error reply from Redis before 7.2
			// (Debian 12 has 7.0): it would read as trouble in the server's error stats.
			DisableIdentity: true,
			// Maintenance notifications are Redis Cloud's; "auto" asks every server once and
			// gets an error reply from any other.
			MaintNotificationsConfig: noMaint(),
		})
	default:
		o.DisableIdentity = true
		o.MaintNotificationsConfig = noMaint()
		c = goredis.NewClient(o)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redis: ping: %w", err)
	}
	return c, nil
}

// redactURLError drops the URL that url.Parse puts into its errors.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// noMaint turns go-redis's maintenance notifications off (see Connect).
func noMaint() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}
