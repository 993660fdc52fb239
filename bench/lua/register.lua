-- POST /auth/register with a JSON body and an e-mail address never used before:
-- wrk <url> -s register.lua -- <unique prefix> <password>
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local prefix, password, counter
sent = 0

function init(args)
  prefix = args[1]
  password = args[2]
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  sent = counter
  local body = string.format('{"email": "%s-%d-%d@example.com", "password": "%s"}', prefix, thread_id or 0, counter, password)
  return wrk.format(nil, nil, nil, body)
end
