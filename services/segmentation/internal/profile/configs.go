package profile

import (
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/feedloop/feedloop/pkg/config"
)

// Configs are the configuration of every tenant: the default, and tenants
// that set their own (a luxury shop and a coffee shop need different
// monetary and frequency boundaries).
type Configs struct {
	Default Config
	Tenants map[string]Config
}

// For returns tenant's configuration.
func (cs Configs) For(tenant string) Config {
	if c, ok := cs.Tenants[tenant]; ok {
		return c
	}
	return cs.Default
}

// overrides are the settings a configuration file may change; unset ones
// keep the value they override (the built-in default, or the file's
// default for a tenant).
type overrides struct {
	Currency       *string        `yaml:"currency"`
	RecencyDays    *[4]int        `yaml:"recency_days"`
	Frequency      *[4]int64      `yaml:"frequency"`
	Monetary       *[4]int64      `yaml:"monetary"`
	Rhythm         *time.Duration `yaml:"rhythm"`
	NewFor         *time.Duration `yaml:"new_for"`
	LapsedAfter    *time.Duration `yaml:"lapsed_after"`
	LoyalPurchases *int64         `yaml:"loyal_purchases"`
	LoyalTenure    *time.Duration `yaml:"loyal_tenure"`
	ChurnWeights   *struct {
		Bias                *float64 `yaml:"bias"`
		Overdue             *float64 `yaml:"recency_vs_rhythm"`
		FrequencyDrop       *float64 `yaml:"frequency_drop"`
		Dissatisfaction     *float64 `yaml:"dissatisfied"`
		FallingSatisfaction *float64 `yaml:"satisfaction_falling"`
		Detractors          *float64 `yaml:"detractor"`
		Complaints          *float64 `yaml:"complaints"`
	} `yaml:"churn_weights"`
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func (o overrides) apply(c Config) Config {
	set(&c.Currency, o.Currency)
	set(&c.RecencyDays, o.RecencyDays)
	set(&c.Frequency, o.Frequency)
	set(&c.Monetary, o.Monetary)
	set(&c.Rhythm, o.Rhythm)
	set(&c.NewFor, o.NewFor)
	set(&c.LapsedAfter, o.LapsedAfter)
	set(&c.LoyalPurchases, o.LoyalPurchases)
	set(&c.LoyalTenure, o.LoyalTenure)
	if w := o.ChurnWeights; w != nil {
		set(&c.ChurnWeights.Bias, w.Bias)
		set(&c.ChurnWeights.Overdue, w.Overdue)
		set(&c.ChurnWeights.FrequencyDrop, w.FrequencyDrop)
		set(&c.ChurnWeights.Dissatisfaction, w.Dissatisfaction)
		set(&c.ChurnWeights.FallingSatisfaction, w.FallingSatisfaction)
		set(&c.ChurnWeights.Detractors, w.Detractors)
		set(&c.ChurnWeights.Complaints, w.Complaints)
	}
	return c
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// Check reports what makes c unusable.
func (c Config) Check() error {
	var errs []error
	if !currencyCode.MatchString(c.Currency) {
		errs = append(errs, fmt.Errorf("currency %q is not an ISO 4217 code", c.Currency))
	}
	if !slices.IsSorted(c.RecencyDays[:]) || c.RecencyDays[0] < 1 {
		errs = append(errs, errors.New("recency_days must be positive and ascending (days for scores 5, 4, 3, 2)"))
	}
	if !slices.IsSorted(c.Frequency[:]) || c.Frequency[0] < 1 {
		errs = append(errs, errors.New("frequency must be positive and ascending (purchases for scores 2, 3, 4, 5)"))
	}
	if !slices.IsSorted(c.Monetary[:]) || c.Monetary[0] < 1 {
		errs = append(errs, errors.New("monetary must be positive and ascending (spend for scores 2, 3, 4, 5)"))
	}
	w := c.ChurnWeights
	for _, v := range []float64{w.Bias, w.Overdue, w.FrequencyDrop, w.Dissatisfaction, w.FallingSatisfaction, w.Detractors, w.Complaints} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("churn_weights must be finite numbers, got %v", v))
			break
		}
	}
	if c.LoyalPurchases < 1 {
		errs = append(errs, fmt.Errorf("loyal_purchases must be at least 1, got %d", c.LoyalPurchases))
	}
	for name, d := range map[string]time.Duration{"rhythm": c.Rhythm, "new_for": c.NewFor, "lapsed_after": c.LapsedAfter, "loyal_tenure": c.LoyalTenure} {
		if d < time.Hour {
			errs = append(errs, fmt.Errorf("%s must be at least 1h, got %s", name, d))
		}
	}
	return errors.Join(errs...)
}

// LoadConfigs reads a configuration file (see docs/segmentation.md): a
// `default` that overrides the built-in defaults, and `tenants`, each
// overriding the file's default. name is used in errors.
func LoadConfigs(r io.Reader, name string) (Configs, error) {
	var f struct {
		Default overrides            `yaml:"default"`
		Tenants map[string]overrides `yaml:"tenants"`
	}
	if err := config.DecodeYAML(r, &f); err != nil && !errors.Is(err, io.EOF) {
		return Configs{}, fmt.Errorf("segmentation config %s: %w", name, err)
	}
	cs := Configs{Default: f.Default.apply(Default()), Tenants: map[string]Config{}}
	if err := cs.Default.Check(); err != nil {
		return Configs{}, fmt.Errorf("segmentation config %s: default: %w", name, err)
	}
	for tenant, o := range f.Tenants {
		cs.Tenants[tenant] = o.apply(cs.Default)
		if err := cs.Tenants[tenant].Check(); err != nil {
			return Configs{}, fmt.Errorf("segmentation config %s: tenant %q: %w", name, tenant, err)
		}
	}
	return cs, nil
}
