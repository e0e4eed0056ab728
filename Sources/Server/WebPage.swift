import Hummingbird

/// The single web page the daemon serves: a search box with filters (dates, folder) and a
/// sort switch, a grid of thumbnails with scores, a viewer with the path, the original and
/// "more like this", a duplicates view (groups, best photo first), and the indexing progress.
/// Plain HTML, CSS and JavaScript, served from the binary: no build step, no CDN.
enum WebPage {
    static func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in asset(html, type: "text/html; charset=utf-8") }
        router.get("/app.js") { _, _ in asset(script, type: "text/javascript; charset=utf-8") }
        router.get("/app.css") { _, _ in asset(style, type: "text/css; charset=utf-8") }
    }

    private static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok,
                 headers: [.contentType: type,
                           .contentSecurityPolicy: "default-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'",
                           .xContentTypeOptions: "nosniff", .cacheControl: "no-cache"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>imgsearch</title>
        <link rel="stylesheet" href="/app.css">
        </head>
        <body>
        <header>
          <form id="search" role="search">
            <input id="q" name="q" type="search" placeholder="Describe a photo: a dog on a beach at sunset" autocomplete="off" autofocus>
            <input id="not" name="not" type="search" placeholder="but not…" autocomplete="off">
            <select id="mode" aria-label="Search by" title="semantic: BLIP-2 similarity; keyword: words of the captions; hybrid: both">
              <option value="semantic">semantic</option>
              <option value="keyword">keyword</option>
              <option value="hybrid">hybrid</option>
            </select>
            <button type="submit">Search</button>
          </form>
          <div id="filters">
            <label>from <input id="after" type="date"></label>
            <label>to <input id="before" type="date"></label>
            <select id="under" aria-label="Folder"><option value="">all folders</option></select>
            <select id="sort" aria-label="Order">
              <option value="score">best first</option>
              <option value="date">newest first</option>
            </select>
            <button id="duplicates" type="button" title="Copies, re-encodes, resizes, crops and edits of one photo, grouped, best first">Duplicates</button>
            <label title="Also group photos of the same scene by their BLIP-2 embeddings (provisional threshold)"><input id="scene" type="checkbox"> same scene</label>
          </div>
          <div id="status" aria-live="polite"></div>
        </header>
        <main>
          <p id="message"></p>
          <div id="grid"></div>
        </main>
        <dialog id="viewer">
          <figure>
            <img id="viewer-image" alt="">
            <figcaption>
              <p id="viewer-caption"></p>
              <code id="viewer-path"></code>
              <span id="viewer-score"></span>
              <a id="viewer-original" target="_blank" rel="noopener">original</a>
              <button id="viewer-similar" type="button">More like this</button>
              <button id="viewer-close" type="button">Close</button>
              <form id="ask">
                <input id="ask-question" maxlength="300" placeholder="Ask about this photo" aria-label="Ask about this photo">
                <button type="submit">Ask</button>
                <button id="ask-stop" type="button" hidden>Stop</button>
              </form>
              <p id="ask-answer" aria-live="polite"></p>
            </figcaption>
          </figure>
        </dialog>
        <script src="/app.js"></script>
        </body>
        </html>
        """

    static let style = """
        :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
        body { margin: 0; }
        header { position: sticky; top: 0; display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center;
                 padding: .75rem 1rem; background: Canvas; border-bottom: 1px solid #8884; z-index: 1; }
        form { display: flex; gap: .5rem; flex: 1 1 30rem; }
        #q { flex: 3; } #not { flex: 1; }
        input, button { font: inherit; padding: .4rem .6rem; }
        #status { font-size: .85rem; opacity: .8; }
        #filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; font-size: .9rem; }
        #under { max-width: 24rem; }
        main { padding: 1rem; }
        #grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: .75rem; }
        .hit { margin: 0; cursor: pointer; border-radius: 6px; overflow: hidden; background: #8881; }
        .hit img { display: block; width: 100%; aspect-ratio: 1; object-fit: cover; }
        .hit figcaption { font-size: .8rem; padding: .25rem .4rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
        .group { grid-column: 1 / -1; margin: 0 0 .5rem; }
        .group h2 { font-size: .95rem; margin: 0 0 .4rem; }
        .group .photos { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: .5rem; }
        .group .hit.keep { outline: 3px solid #2a2; }
        .score { font-variant-numeric: tabular-nums; font-weight: 600; margin-right: .4rem; }
        dialog { max-width: 95vw; max-height: 95vh; padding: .5rem; }
        dialog img { max-width: 90vw; max-height: 80vh; display: block; margin: auto; }
        #viewer-caption { flex-basis: 100%; margin: 0; font-size: 1.1rem; }
        #viewer-caption:empty, #ask-answer:empty { display: none; }
        #ask { display: flex; gap: .5rem; flex-basis: 100%; } #ask-question { flex: 1; }
        #ask-answer { flex-basis: 100%; margin: 0; }
        dialog figcaption { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding-top: .5rem; }
        dialog code { word-break: break-all; }
        """

    static let script = """
        "use strict";
        // The bearer token, when the daemon has one, comes in the page's address: /#token=SECRET
        const token = new URLSearchParams(location.hash.slice(1)).get("token");
        const $ = (id) => document.getElementById(id);

        function api(path, params = {}) {
          const url = new URL(path, location.origin);
          for (const [key, value] of Object.entries(params)) {
            for (const item of [].concat(value)) if (item !== "" && item != null) url.searchParams.append(key, item);
          }
          return url;
        }

        function withToken(path) {
          return token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path;
        }

        async function getJSON(url, init = {}) {
          const headers = { ...(init.headers || {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) };
          const response = await fetch(url, { ...init, headers });
          const body = await response.json().catch(() => ({}));
          if (!response.ok) throw new Error(body.error?.message || `${response.status} ${response.statusText}`);
          return body;
        }

        function show(results, heading) {
          const grid = $("grid");
          grid.replaceChildren();
          $("message").textContent = heading;
          for (const hit of results) {
            const title = (hit.caption ? hit.caption + "\\n" : "") + (hit.taken ? hit.taken + "\\n" : "") + hit.paths.join("\\n");
            grid.append(thumbnailFigure(hit, hit.score.toFixed(3), title, 360));
          }
        }
        // A grid cell: `hit`'s thumbnail (when it has an image id), `label` in bold before the
        // file's name, `title` on hover; a click opens the viewer.
        function thumbnailFigure(hit, label, title, size) {
          const figure = document.createElement("figure");
          figure.className = "hit";
          if (hit.id) {
            figure.dataset.id = hit.id;
            const img = document.createElement("img");
            img.loading = "lazy";
            img.alt = hit.caption || hit.paths[0];
            img.src = withToken(`${hit.thumbnail}?size=${size}`);
            figure.append(img);
            figure.addEventListener("click", () => open(hit));
          }
          const caption = document.createElement("figcaption");
          const tag = document.createElement("span");
          tag.className = "score";
          tag.textContent = label;
          caption.append(tag, hit.paths[0].split("/").pop());
          caption.title = title;
          figure.append(caption);
          return figure;
        }

        async function search(text, not) {
          $("message").textContent = "Searching…";
          try {
            const mode = $("mode").value;
            const body = await getJSON(api("/api/search", {
              q: text, not: mode === "keyword" ? "" : not, mode, limit: 60, sort: $("sort").value, ...filters() }));
            show(body.results, `${body.results.length} results for “${text}” in ${body.milliseconds.toFixed(0)} ms`);
          } catch (error) {
            $("grid").replaceChildren();
            $("message").textContent = error.message;
          }
        }

        async function similar(hit) {
          $("viewer").close();
          $("message").textContent = "Searching…";
          try {
            const body = await getJSON(api(`/api/images/${hit.id}/similar`, { limit: 60, ...filters() }));
            show(body.results, `${body.results.length} images like ${hit.paths[0].split("/").pop()}`);
          } catch (error) {
            $("message").textContent = error.message;
          }
        }

        // Groups of duplicates under the chosen folder, best photo first, each labelled with
        // how it matches the first.
        async function duplicates() {
          $("message").textContent = "Looking for duplicates…";
          $("grid").replaceChildren();
          try {
            const body = await getJSON(api("/api/duplicates", { under: $("under").value, scene: $("scene").checked ? 1 : "" }));
            const spare = body.groups.reduce((sum, group) => sum + group.photos.length - 1, 0);
            $("message").textContent = `${body.groups.length} groups of duplicates (${spare} photos could go) in ${body.milliseconds.toFixed(0)} ms`;
            for (const group of body.groups) {
              const section = document.createElement("section");
              section.className = "group";
              const heading = document.createElement("h2");
              heading.textContent = `${group.photos.length} photos`;
              const row = document.createElement("div");
              row.className = "photos";
              for (const photo of group.photos) row.append(duplicateFigure(photo));
              section.append(heading, row);
              $("grid").append(section);
            }
          } catch (error) {
            $("message").textContent = error.message;
          }
        }
        function duplicateFigure(photo) {
          const label = { best: "keep", identical: "identical copy", perceptual: `distance ${photo.distance}`,
                          scene: `same scene ${photo.similarity?.toFixed(3)}` }[photo.match];
          const title = [photo.path, photo.width ? `${photo.width}×${photo.height}` : "", photo.taken || ""].filter(Boolean).join("\\n");
          const hit = { id: photo.image, paths: [photo.path], thumbnail: `/api/images/${photo.image}/thumbnail`,
                        file: `/api/images/${photo.image}/file`, taken: photo.taken };
          const figure = thumbnailFigure(hit, label, title, 320);
          if (photo.match === "best") figure.classList.add("keep");
          return figure;
        }
        // The date fields and the folder chooser, as the API's filter parameters.
        function filters() {
          return { after: $("after").value, before: dayAfter($("before").value), under: $("under").value };
        }

        // "to" includes its day: the API's `before` excludes the date it is given.
        function dayAfter(date) {
          if (!date) return "";
          const next = new Date(`${date}T00:00:00Z`);
          next.setUTCDate(next.getUTCDate() + 1);
          return next.toISOString().slice(0, 10);
        }

        async function loadFolders() {
          try {
            const body = await getJSON(api("/api/folders"));
            for (const folder of body.folders) {
              const option = document.createElement("option");
              option.value = folder.path;
              option.textContent = `${folder.path} (${folder.photos})`;
              $("under").append(option);
            }
          } catch (error) {
            $("status").textContent = error.message;
          }
        }

        let current = null;
        function open(hit) {
          current = hit;
          $("viewer-image").src = withToken(`${hit.thumbnail}?size=1600`);
          $("viewer-image").alt = hit.caption || hit.paths[0];
          $("viewer-caption").textContent = hit.caption || "";
          $("ask-answer").textContent = "";
          $("viewer-path").textContent = hit.paths.join("\\n");
          $("viewer-score").textContent = [hit.score != null ? `score ${hit.score.toFixed(3)}` : "", hit.taken ? `taken ${hit.taken}` : ""]
            .filter(Boolean).join(" · ");
          $("viewer-original").href = withToken(hit.file);
          $("viewer").showModal();
        }

        async function refreshStatus() {
          try {
            const status = await getJSON(api("/api/status"));
            const pass = status.daemon?.current_pass;
            const progress = pass ? ` · indexing ${pass.done}/${pass.total}` : "";
            $("status").textContent = `${status.images} images · ${status.model.device}${progress}`;
          } catch (error) {
            $("status").textContent = error.message;
          }
        }

        $("search").addEventListener("submit", (event) => {
          event.preventDefault();
          const text = $("q").value.trim();
          if (!text) return;
          history.replaceState(null, "", `?q=${encodeURIComponent(text)}${location.hash}`);
          search(text, $("not").value.trim());
        });
        async function stopAsking() {
          if ($("ask-stop").hidden) return;
          await getJSON(api("/api/jobs/current"), { method: "DELETE" }).catch(() => {});
        }
        $("ask-stop").addEventListener("click", stopAsking);
        $("viewer-close").addEventListener("click", () => { stopAsking(); $("viewer").close(); });
        $("viewer-similar").addEventListener("click", () => current && similar(current));
        $("duplicates").addEventListener("click", duplicates);
        $("ask").addEventListener("submit", async (event) => {
          event.preventDefault();
          const question = $("ask-question").value.trim();
          if (!question || !current) return;
          $("ask-answer").textContent = "Thinking…";
          $("ask-stop").hidden = false;
          try {
            const body = await getJSON(api(`/api/images/${current.id}/ask`), {
              method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ question }) });
            $("ask-answer").textContent = `${body.answer} (${body.seconds.toFixed(1)} s)`;
          } catch (error) {
            $("ask-answer").textContent = error.message;
          } finally {
            $("ask-stop").hidden = true;
          }
        });

        const initial = new URLSearchParams(location.search).get("q");
        if (initial) { $("q").value = initial; search(initial, ""); }
        loadFolders();
        refreshStatus();
        setInterval(refreshStatus, 3000);
        """
}
