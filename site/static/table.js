// Progressive enhancement for the ranking tables: sortable columns and filters.
// Without JavaScript the tables are complete and already in ranking order.
(function () {
  "use strict";

  function sortValue(row, index, numeric) {
    const cell = row.cells[index];
    const raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (!numeric) return raw;
    const value = parseFloat(raw);
    return Number.isFinite(value) ? value : null;
  }

  // text sorts as people read it: "r=8" before "r=32", case aside
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function compare(a, b, numeric) {
    if (a === null || b === null) return a === b ? 0 : (a === null ? 1 : -1);
    return numeric ? a - b : collator.compare(a, b);
  }

  // The view lives in the address (replaceState: no new history entry), so it can be linked to.
  function writeParams(params) {
    const query = params.toString();
    try {
      history.replaceState(null, "", window.location.pathname + (query ? "?" + query : "") + window.location.hash);
    } catch (e) {
      // some browsers refuse to rewrite file:// addresses; the view still applies
    }
  }

  function setParam(name, value) {
    const params = new URLSearchParams(window.location.search);
    if (value) params.set(name, value);
    else params.delete(name);
    writeParams(params);
  }

  function sortBy(table, header, index, forced) {
    const numeric = header.dataset.sortType === "number";
    const now = header.getAttribute("aria-sort");
    const direction = forced || (now ? (now === "ascending" ? "descending" : "ascending")
      : (header.dataset.sortDefault || "ascending"));
    if (table.id) setParam("sort-" + table.id, index + "." + (direction === "ascending" ? "asc" : "desc"));
    for (const th of table.tHead.rows[0].cells) th.removeAttribute("aria-sort");
    header.setAttribute("aria-sort", direction);
    const sign = direction === "ascending" ? 1 : -1;
    const body = table.tBodies[0];
    const rows = Array.from(body.rows).map((row, i) => ({ row, i, v: sortValue(row, index, numeric) }));
    rows.sort((x, y) => {
      // missing values always last; ties keep the ranking order
      if (x.v === null || y.v === null) return compare(x.v, y.v, numeric) || x.i - y.i;
      return sign * compare(x.v, y.v, numeric) || x.i - y.i;
    });
    for (const r of rows) body.appendChild(r.row);
  }

  function makeSortable(table) {
    Array.from(table.tHead.rows[0].cells).forEach((th, index) => {
      if (!th.dataset.sortType) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", () => sortBy(table, th, index));
    });
    // a linked view keeps its order: ?sort-ranking=3.desc sorts by the fourth column, descending
    const saved = table.id ? new URLSearchParams(window.location.search).get("sort-" + table.id) : null;
    const match = saved && /^(\d+)\.(asc|desc)$/.exec(saved);
    const header = match && table.tHead.rows[0].cells[Number(match[1])];
    if (header && header.dataset.sortType) {
      sortBy(table, header, Number(match[1]), match[2] === "asc" ? "ascending" : "descending");
    }
  }

  // A filtered view can be linked to: ?family=prompted%20LM selects that family on load, and
  // every change is written back into the address. A page with two filter boxes names one's
  // parameters with a prefix (data-param="matrix-": ?matrix-family=...), so that the two
  // never read each other's; the search box (one per page) is ?q=.
  function initialValues(selects, prefix) {
    const params = new URLSearchParams(window.location.search);
    for (const s of selects) {
      const wanted = params.get(prefix + s.dataset.filter);
      if (wanted !== null && Array.from(s.options).some((o) => o.value === wanted)) s.value = wanted;
    }
  }

  function remember(selects, search, prefix) {
    const params = new URLSearchParams(window.location.search);
    for (const s of selects) {
      if (s.value === "") params.delete(prefix + s.dataset.filter);
      else params.set(prefix + s.dataset.filter, s.value);
    }
    if (search) {
      if (search.value.trim() === "") params.delete("q");
      else params.set("q", search.value.trim());
    }
    writeParams(params);
  }

  function setupFilters(box) {
    const table = document.getElementById(box.dataset.table);
    if (!table) return;
    const selects = Array.from(box.querySelectorAll("select[data-filter]"));
    const search = box.querySelector("input[data-search]");
    const prefix = box.dataset.param || "";
    const count = box.querySelector(".count");
    const apply = () => {
      let shown = 0;
      const words = search ? search.value.trim().toLowerCase().split(/\s+/).filter(Boolean) : [];
      for (const row of table.tBodies[0].rows) {
        const text = search ? row.getAttribute("data-" + search.dataset.search) || "" : "";
        const keep = selects.every((s) => s.value === "" || row.getAttribute("data-" + s.dataset.filter) === s.value)
          && words.every((w) => text.includes(w));
        row.hidden = !keep;
        shown += keep ? 1 : 0;
      }
      if (count) count.textContent = shown + " of " + table.tBodies[0].rows.length + " shown";
    };
    for (const s of selects) {
      s.addEventListener("change", () => {
        apply();
        remember(selects, search, prefix);
      });
    }
    if (search) {
      const q = new URLSearchParams(window.location.search).get("q");
      if (q) search.value = q;
      search.addEventListener("input", () => {
        apply();
        remember(selects, search, prefix);
      });
    }
    initialValues(selects, prefix);
    box.hidden = false;
    apply();
  }

  // Column chooser: optional columns (data-opt) are hidden until ticked; the choice lives in
  // the address (?cols=f1_macro,base), so a view can be linked to. Without JavaScript every
  // column shows.
  function setupColumns(box) {
    const table = document.getElementById(box.dataset.table);
    if (!table) return;
    const boxes = Array.from(box.querySelectorAll("input[type=checkbox]"));
    const wanted = new URLSearchParams(window.location.search).get("cols");
    const chosen = new Set(wanted ? wanted.split(",") : []);
    for (const b of boxes) b.checked = chosen.has(b.value);
    const apply = () => {
      const shown = new Set(boxes.filter((b) => b.checked).map((b) => b.value));
      for (const cell of table.querySelectorAll("[data-opt]")) cell.hidden = !shown.has(cell.dataset.opt);
      return shown;
    };
    const save = (shown) => setParam("cols", Array.from(shown).join(","));
    for (const b of boxes) b.addEventListener("change", () => save(apply()));
    box.hidden = false;
    apply();
  }

  // Menus close on Escape (focus back on their summary) and on a click outside them.
  function setupMenus() {
    const menus = Array.from(document.querySelectorAll("details.menu"));
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      for (const m of menus) {
        if (m.open) {
          m.open = false;
          m.querySelector("summary").focus();
        }
      }
    });
    document.addEventListener("click", (event) => {
      for (const m of menus) if (m.open && !m.contains(event.target)) m.open = false;
    });
  }

  setupMenus();
  document.querySelectorAll("table.sortable").forEach(makeSortable);
  document.querySelectorAll(".filters[data-table]").forEach(setupFilters);
  document.querySelectorAll("details.columns[data-table]").forEach(setupColumns);
})();
