-- egoi.options - the option names each public entry point knows, in one place.
--
-- An option whose name is not listed here is refused with a `usage` error naming it and the
-- closest known name (`egoi.new{ timout = 5 }` -> "unknown option 'timout' (did you mean
-- 'timeout'?)"). Adding an option to an entry point means adding its name here: one name per
-- line, sorted, so that parallel additions merge cleanly. Value checks stay with the code
-- that uses the option.
local options = {}

-- egoi.new{ ... }
options.new = {
  "api",             -- API generation: "v2" (default) or "v3"
  "apikey",
  "app",
  "backoff",
  "backoff_cap",
  "ca_file",
  "clock",
  "connect_timeout",
  "json_decoder",
  "keepalive",
  "log",
  "max_response",
  "plugin_key",
  "protocol",
  "proxy",
  "raise",
  "rate_limit",
  "retries",
  "sleep",
  "timeout",
  "transport",
  "url",
  "verify_tls",
}

-- egoi.new{ rate_limit = { ... } }
options.rate_limit = {
  "calls",
  "limiter",
  "max_wait",
  "on_unavailable",  -- Redis limiter
  "on_wait",
  "redis",           -- Redis limiter
  "redis_connect_timeout",
  "redis_prefix",
  "redis_timeout",
  "shdict",
  "state_file",
  "wait",
  "window",
}

-- client.subscribers:import(source, opts) / egoi.bulk.import
options.import = {
  "autoresponder",
  "callback_url",
  "compare_field",
  "dedupe",
  "encoding",
  "force_empty",
  "journal",
  "listID",
  "map",
  "max_bytes",
  "max_fields",
  "max_record",
  "max_rejected",
  "max_rows",
  "mode",
  "notification",
  "on_chunk",
  "on_progress",
  "on_reject",
  "operation",
  "poll_interval",
  "receive",
  "rejects",
  "should_stop",
  "status",
  "tags",
  "wait",
  "wait_timeout",
}

-- client.subscribers:export(listID, dest, opts) / egoi.bulk.export
options.export = {
  "callback_url",
  "eol",
  "on_page",
  "page_size",
  "poll_interval",
  "raw_names",
  "receive",
  "segment",
  "wait_timeout",
}

return options
