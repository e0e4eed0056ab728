-- wrk script for bench/serve.sh: a different text search on every request.
local queries = {
  "a dog running on a beach", "sunset over the ocean", "a red car parked in the street",
  "two children playing in the snow", "a bowl of fruit on a kitchen table", "mountains under a cloudy sky",
  "a cat sleeping on a sofa", "a birthday cake with candles", "people walking in the rain at night",
  "a bicycle leaning against a wall", "an old church in a small village", "a plate of pasta",
}
local n = 0
request = function()
  n = n + 1
  local q = (queries[(n % #queries) + 1]:gsub(" ", "+"))
  return wrk.format("GET", "/api/search?limit=20&q=" .. q)
end
