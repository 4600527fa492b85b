package config

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestDecodeYAML(t *testing.T) {
	var v struct {
		Name string `yaml:"name"`
	}
	if err := DecodeYAML(strings.NewReader("name: gold\n"), &v); err != nil || v.Name != "gold" {
		t.Errorf("%+v, %v", v, err)
	}
	if err := DecodeYAML(strings.NewReader("nmae: gold\n"), &v); err == nil || !strings.Contains(err.Error(), "field nmae not found") {
		t.Errorf("a misspelt field: %v", err)
	}
	if err := DecodeYAML(strings.NewReader(""), &v); !errors.Is(err, io.EOF) {
		t.Errorf("an empty file: %v, want io.EOF", err)
	}
}

func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{
		"at-risk": true, "vip_2": true, "0day": true,
		"": false, "Gold": false, "-x": false, "a b": false, "a:b": false, strings.Repeat("a", 65): false,
	} {
		if err := CheckName(name); (err == nil) != ok {
			t.Errorf("%q: %v", name, err)
		}
	}
}
