package redis_test

import (
	"strings"
	"testing"

	"github.com/tiltas/tiltas/adapters/redis"
)

func TestConnect(t *testing.T) {
	url := need(t, envURL)
	seeds := strings.Split(need(t, envCluster), ",")
	tests := []struct {
		name    string
		url     string
		topo    redis.Topology
		wantErr bool
		secret  string // must not appear in the error
	}{
		{name: "standalone", url: url},
		{name: "cluster", url: "redis://", topo: redis.Topology{ClusterAddrs: seeds}},
		{name: "bad scheme", url: "http://127.0.0.1:1", wantErr: true},
		{name: "password kept out of errors", url: "redis://user:hunter2@bad host:1/0", wantErr: true, secret: "hunter2"},
		{name: "cluster with a database", url: "redis:///3", topo: redis.Topology{ClusterAddrs: seeds}, wantErr: true},
		{name: "sentinel and cluster", url: url, topo: redis.Topology{SentinelMaster: "m", ClusterAddrs: seeds}, wantErr: true},
		{name: "nobody listening", url: "redis://:hunter2@127.0.0.1:1/0", wantErr: true, secret: "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := redis.Connect(t.Context(), tt.url, tt.topo)
			if !tt.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("no error")
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
