-- GET with a bearer token: wrk <url> -s get.lua -- <token>
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
end
