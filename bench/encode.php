<?php
// bench/encode.php N -> "php-http_build_query ms MB"
$n = (int)($argv[1] ?? 100000);
$rows = [];
for ($i = 1; $i <= $n; $i++) {
  $rows[] = ['cellphone' => sprintf('351-91%07d', $i), 'email' => sprintf('user%07d+tag@example.com', $i),
    'first_name' => "João $i", 'last_name' => 'Silva & Filhos', 'status' => 1];
}
$params = ['method' => 'addSubscriberBulk', 'type' => 'json', 'functionOptions' => [
  'apikey' => '0123456789abcdef0123456789abcdef01234567', 'compareField' => 'email', 'listID' => 3,
  'operation' => 2, 'subscribers' => $rows]];
$best = INF; $size = 0;
for ($k = 0; $k < 3; $k++) {
  $t0 = hrtime(true);
  $s = http_build_query($params);
  $dt = (hrtime(true) - $t0) / 1e6;
  $size = strlen($s);
  if ($dt < $best) $best = $dt;
}
printf("php-http_build_query %.1f %.2f\n", $best, $size / 1048576);
