package route

import "strings"

// geoCodes maps the geography part of a zone id prefix to the region's
// geography. AWS publishes no mapping (protocol notes §1.4); this follows
// the scheme every published zone id uses (the one Teleport's
// ShortRegionToRegion parses). Unknown geographies yield no region, so the
// caller falls back to the default region rather than invent one.
var geoCodes = map[string]string{
	"us": "us", "usg": "us-gov", "eu": "eu", "ap": "ap", "sa": "sa", "ca": "ca",
	"me": "me", "af": "af", "il": "il", "mx": "mx", "cn": "cn",
}

// directions maps the direction part of a zone id prefix.
var directions = map[string]string{
	"n": "north", "s": "south", "e": "east", "w": "west", "c": "central",
	"ne": "northeast", "nw": "northwest", "se": "southeast", "sw": "southwest",
}

// regionFromZone applies the prefix rule to a zone id: the text before the
// first '-' (so local zone ids like use1-atl2-az1 use "use1") is
// geography + direction + number, e.g. usw2 → us-west-2, apne1 →
// ap-northeast-1, usgw1 → us-gov-west-1, cnnw1 → cn-northwest-1. It returns
// "" when the prefix does not follow the scheme.
func regionFromZone(zone string) string {
	prefix, _, _ := strings.Cut(zone, "-")
	i := len(prefix)
	for i > 0 && prefix[i-1] >= '0' && prefix[i-1] <= '9' {
		i--
	}
	letters, num := prefix[:i], prefix[i:]
	if num == "" || len(num) > 2 || num[0] == '0' {
		return ""
	}
	// "usg" must be tried before "us": us-gov zones are usgw1, usge1.
	for _, n := range []int{3, 2} {
		if len(letters) <= n {
			continue
		}
		geo, ok := geoCodes[letters[:n]]
		if !ok {
			continue
		}
		if dir, ok := directions[letters[n:]]; ok {
			return geo + "-" + dir + "-" + num
		}
	}
	return ""
}
