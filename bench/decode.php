<?php
// bench/decode.php JSONFILE -> "php ms": json_decode + the vendor wrapper's key_N walk
$body = file_get_contents($argv[1]);
function walk($v) {
  if (!is_array($v)) return $v;
  $isList = count($v) > 0;
  foreach ($v as $k => $_) { if (strncmp($k, 'key_', 4) !== 0) { $isList = false; break; } }
  $out = [];
  if ($isList) { foreach ($v as $x) $out[] = walk($x); }
  else { foreach ($v as $k => $x) $out[$k] = walk($x); }
  return $out;
}
$best = INF;
for ($k = 0; $k < 3; $k++) {
  $t0 = hrtime(true);
  $doc = json_decode($body, true);
  $r = $doc['Egoi_Api']['subscriberData'];
  unset($r['status']);
  $r = walk($r);
  $dt = (hrtime(true) - $t0) / 1e6;
  if (!isset($r['subscriber'][0]['EMAIL'])) { fwrite(STDERR, "bad\n"); exit(1); }
  if ($dt < $best) $best = $dt;
}
printf("php %.1f\n", $best);
