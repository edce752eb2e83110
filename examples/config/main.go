//go:build wasip1

// Command config is an example wasmcollector module with one JSON collector, config, that reports
// the installation's configuration the way AWX's config collector does: platform, identifiers,
// product, license and subscription, authentication backends and log aggregation settings. Every
// value comes from the collector's TOML parameters, with defaults. See README.md.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/modules/config.wasm ./examples/config
package main

import (
	"errors"
	"fmt"

	collector "github.com/wasmcollector/wasmcollector/guest-sdk/go"
)

func main() {}

//go:wasmexport config
func config() int32 { return collector.Run(collectConfig) }

// document is the config.json the collector emits. The parameter table has the same shape: any key
// below except collection_type can be set in [collector.params], platform and logging as tables.
type document struct {
	Platform               platform `json:"platform"`
	InstallUUID            string   `json:"install_uuid"`
	InstanceUUID           string   `json:"instance_uuid"`
	URLBase                string   `json:"url_base"`
	ProductName            string   `json:"product_name"`
	ProductVersion         string   `json:"product_version"`
	LicenseType            string   `json:"license_type"`
	SubscriptionName       string   `json:"subscription_name"`
	SKU                    string   `json:"sku"`
	SubscriptionUsageModel string   `json:"subscription_usage_model"`
	Trial                  bool     `json:"trial"`
	Compliant              bool     `json:"compliant"`
	InstanceCount          int      `json:"instance_count"`
	LicenseDate            int64    `json:"license_date"`
	AuthenticationBackends []string `json:"authentication_backends"`
	Logging                logging  `json:"logging"`
	PendoTracking          string   `json:"pendo_tracking"`
	CollectionType         string   `json:"collection_type"`
}

type platform struct {
	System  string `json:"system"`
	Dist    string `json:"dist"`
	Release string `json:"release"`
	Type    string `json:"type"`
}

type logging struct {
	AggregatorEnabled bool     `json:"log_aggregator_enabled"`
	AggregatorType    string   `json:"log_aggregator_type"`
	AggregatorLevel   string   `json:"log_aggregator_level"`
	AggregatorLoggers []string `json:"log_aggregator_loggers"`
}

// defaults returns the document a collector with no parameters emits.
func defaults() document {
	return document{
		Platform:               platform{System: "Linux", Dist: "rhel", Release: "9.4", Type: "traditional"},
		InstallUUID:            "00000000-0000-4000-8000-000000000000",
		URLBase:                "https://controller.example.com",
		ProductName:            "wasmcollector demo",
		ProductVersion:         "0.1.0",
		LicenseType:            "open",
		SubscriptionUsageModel: "",
		Compliant:              true,
		InstanceCount:          1,
		AuthenticationBackends: []string{"django.contrib.auth.backends.ModelBackend"},
		Logging: logging{
			AggregatorType:    "",
			AggregatorLevel:   "INFO",
			AggregatorLoggers: []string{"awx", "activity_stream", "job_events", "system_tracking"},
		},
		PendoTracking: "off",
	}
}

// isUUID reports whether s is a UUID in lowercase 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range []byte(s) {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		default:
			return false
		}
	}
	return true
}

func collectConfig() error {
	doc := defaults()
	if err := collector.Params(&doc); err != nil {
		return err
	}
	if doc.InstanceUUID == "" {
		doc.InstanceUUID = doc.InstallUUID
	}
	var errs []error
	if !isUUID(doc.InstallUUID) {
		errs = append(errs, fmt.Errorf("config: parameter install_uuid is %q, want a lowercase UUID", doc.InstallUUID))
	}
	if !isUUID(doc.InstanceUUID) {
		errs = append(errs, fmt.Errorf("config: parameter instance_uuid is %q, want a lowercase UUID", doc.InstanceUUID))
	}
	if doc.InstanceCount < 0 {
		errs = append(errs, fmt.Errorf("config: parameter instance_count is %d, want 0 or more", doc.InstanceCount))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Set last: the host, not a parameter, says why this collection runs.
	doc.CollectionType = collector.CollectionType()
	return collector.EmitJSON(doc)
}
