std = "max"
codes = true
max_line_length = 120
files["spec"] = { std = "+busted" }
files["lua/egoi/resty.lua"] = { globals = { "ngx" } }
files["lua/egoi/transport/resty.lua"] = { globals = { "ngx" } }
files["examples/nginx"] = { globals = { "ngx" } }
exclude_files = { "build" }
