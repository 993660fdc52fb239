-- POST /auth/<backend>/login with a form body, cycling over the seeded users:
-- wrk <url> -s login.lua -- <number of users> <password>
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local users, password, counter

function init(args)
  users = tonumber(args[1])
  password = args[2]
  counter = thread_id or 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  counter = counter + 7
  local body = string.format("username=user%d%%40example.com&password=%s", counter % users, password)
  return wrk.format(nil, nil, nil, body)
end
