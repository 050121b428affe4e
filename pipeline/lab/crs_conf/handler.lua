-- The CRS baseline's backend: a short 200 for every request (antinex.pipeline.lab.crs).
function handle(r)
    r.content_type = "text/plain"
    r:puts("ok\n")
    return apache2.OK
end
