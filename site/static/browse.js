// The example browser and a comparison's disagreements: filters and pages over the page's
// compact data (inline JSON: predictions and confidences) and the task's shared data file
// (examples/<task>.js: labels, gold labels, texts).
// Without JavaScript, or when the data file did not load, the page keeps its static first rows.
// Every string is written with textContent: texts and labels are data, never markup.
(function () {
  "use strict";

  const section = document.querySelector("[data-browser]");
  const dataNode = document.getElementById("browser-data");
  if (!section || !dataNode) return;
  const data = JSON.parse(dataNode.textContent);
  const task = (window.FTB_TASKS || {})[data.task];
  if (!task) return;
  const size = parseInt(section.dataset.pageSize, 10) || 50;
  const table = section.querySelector("table");
  const body = table.tBodies[0];
  // each cell names its column, for the narrow layout that stacks a row's cells
  const headings = Array.from(table.tHead.rows[0].cells, (th) => th.textContent.trim());
  const labelled = (tr) => {
    Array.from(tr.cells).forEach((td, i) => {
      if (td.className !== "text") td.dataset.label = headings[i];
    });
    return tr;
  };
  const count = section.querySelector(".count");
  const pager = section.querySelector(".pager");
  const filters = section.querySelector(".filters");
  const selects = {};
  if (filters) {
    for (const s of filters.querySelectorAll("select[data-filter]")) selects[s.dataset.filter] = s;
  }

  const rowId = (i) => (task.idx ? task.idx[i] : i);
  const label = (k) => (k >= 0 ? task.labels[k] : "—");
  const percent = (q) => Math.floor(q / 10) + "." + (q % 10) + "%";
  const bits = (parts) => {
    const a = Math.abs(parts);
    const text = Math.floor(a / 10000) + "." + String(a % 10000).padStart(4, "0");
    return parts < 0 ? "−" + text : text;
  };
  const signedBits = (parts) => (parts > 0 ? "+" : "") + bits(parts);
  const thousands = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

  function cell(tr, text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  // a shape as well as a colour tells right from wrong; screen readers read its name
  function mark(td, right) {
    const symbol = document.createElement("span");
    symbol.className = right ? "mark ok" : "mark bad";
    symbol.setAttribute("role", "img");
    symbol.setAttribute("aria-label", right ? "right" : "wrong");
    symbol.title = right ? "right" : "wrong";
    symbol.textContent = right ? "✓" : "✗";
    td.append(" ", symbol);
  }

  function labelOptions(select) {
    if (!select) return;
    task.labels.forEach((name, k) => {
      const option = document.createElement("option");
      option.value = String(k);
      option.textContent = name;
      select.appendChild(option);
    });
  }

  // ---------------------------------------------------------------- the example browser

  function examples() {
    const pred = data.pred;
    const conf = data.conf;
    const gold = task.gold;
    const all = pred.map((_, i) => i);
    const orders = {
      confident: all.slice().sort((x, y) => conf[y] - conf[x] || x - y),
      unsure: all.slice().sort((x, y) => conf[x] - conf[y] || x - y),
      file: all,
    };
    labelOptions(selects.gold);
    labelOptions(selects.pred);
    const pick = () => {
      const outcome = selects.outcome.value;
      const g = selects.gold.value === "" ? null : Number(selects.gold.value);
      const p = selects.pred.value === "" ? null : Number(selects.pred.value);
      const low = Number(selects.low.value) * 10;
      const high = Number(selects.high.value) * 10;
      return orders[selects.order.value].filter((i) => {
        const right = pred[i] === gold[i];
        if ((outcome === "wrong" && right) || (outcome === "right" && !right)) return false;
        if ((g !== null && gold[i] !== g) || (p !== null && pred[i] !== p)) return false;
        return conf[i] >= low && (conf[i] < high || high === 1000);
      });
    };
    const row = (i) => {
      const tr = document.createElement("tr");
      const right = pred[i] === gold[i];
      tr.className = right ? "right" : "wrong";
      cell(tr, String(rowId(i)), "num");
      cell(tr, task.texts[i], "text");
      cell(tr, label(gold[i]));
      const p = cell(tr, label(pred[i]));
      if (!right) mark(p, false);
      cell(tr, pred[i] >= 0 ? percent(conf[i]) : "—", "num");
      return tr;
    };
    return { pick, row, noun: "examples" };
  }

  // A cell of the confusion matrix (here, or linked from the model page: #cell=<gold>-<pred>)
  // lists exactly its examples: every other filter is reset.
  function showCell(hash) {
    const m = /^#cell=(\d+)-(\d+)$/.exec(hash);
    if (!m || !selects.gold) return false;
    if (Number(m[1]) >= task.labels.length || Number(m[2]) >= task.labels.length) return false;
    selects.outcome.value = "";
    selects.gold.value = m[1];
    selects.pred.value = m[2];
    selects.low.value = "0";
    selects.high.value = "100";
    return true;
  }

  // ---------------------------------------------------------------- a comparison

  function disagreements() {
    const gold = task.gold;
    const keep = {
      "": () => true,
      a: (r) => r[1] === gold[r[0]] && r[3] !== gold[r[0]],
      b: (r) => r[1] !== gold[r[0]] && r[3] === gold[r[0]],
      neither: (r) => r[1] !== gold[r[0]] && r[3] !== gold[r[0]],
    };
    const pick = () => data.rows.filter(keep[selects.which ? selects.which.value : ""]);
    const side = (tr, k, pred, conf) => {
      const td = cell(tr, pred >= 0 ? label(pred) + " (" + percent(conf) + ")" : "—");
      mark(td, pred === gold[k]);
    };
    const row = (r) => {
      const tr = document.createElement("tr");
      cell(tr, String(rowId(r[0])), "num");
      cell(tr, task.texts[r[0]], "text");
      cell(tr, label(gold[r[0]]));
      side(tr, r[0], r[1], r[2]);
      side(tr, r[0], r[3], r[4]);
      return tr;
    };
    return { pick, row, noun: "examples" };
  }

  function documents() {
    const row = (r) => {
      const tr = document.createElement("tr");
      cell(tr, String(r[0] + 1), "num");
      cell(tr, task.texts[r[0]] || "", "text");
      cell(tr, thousands(r[1]), "num");
      cell(tr, bits(r[2]), "num");
      cell(tr, bits(r[3]), "num");
      cell(tr, r[2] === r[3] ? bits(0) : signedBits(r[2] - r[3]), "num");
      return tr;
    };
    return { pick: () => data.rows, row, noun: "documents" };
  }

  // ---------------------------------------------------------------- pages

  const view = data.kind === "labels" ? disagreements() : data.kind === "documents" ? documents() : examples();
  let items = view.pick();
  let page = 0;
  const previous = document.createElement("button");
  const next = document.createElement("button");
  const where = document.createElement("span");
  previous.type = next.type = "button";
  previous.textContent = "← Previous";
  next.textContent = "Next →";
  where.className = "where";
  if (pager) pager.append(previous, where, next);

  function render() {
    const pages = Math.max(1, Math.ceil(items.length / size));
    page = Math.min(Math.max(page, 0), pages - 1);
    const start = page * size;
    const shown = items.slice(start, start + size);
    body.replaceChildren(...shown.map((item) => labelled(view.row(item))));
    count.textContent = items.length
      ? "Showing " + (start + 1) + "–" + (start + shown.length) + " of " + items.length + " " + view.noun + "."
      : "No " + view.noun + " match these filters.";
    previous.disabled = page === 0;
    next.disabled = page >= pages - 1;
    where.textContent = "Page " + (page + 1) + " of " + pages;
    if (pager) pager.hidden = pages <= 1;
  }

  function refresh() {
    items = view.pick();
    page = 0;
    render();
  }

  previous.addEventListener("click", () => {
    page -= 1;
    render();
  });
  next.addEventListener("click", () => {
    page += 1;
    render();
  });
  for (const s of Object.values(selects)) s.addEventListener("change", refresh);
  document.addEventListener("click", (event) => {
    const link = event.target.closest ? event.target.closest('a[href^="#cell="]') : null;
    if (!link || !showCell(link.getAttribute("href"))) return;
    event.preventDefault();
    try {
      history.replaceState(null, "", link.getAttribute("href"));
    } catch (e) {
      // some browsers refuse to rewrite file:// addresses; the filter still applies
    }
    refresh();
    section.scrollIntoView();
  });
  window.addEventListener("hashchange", () => {
    if (showCell(window.location.hash)) {
      refresh();
      section.scrollIntoView();
    }
  });
  const linked = showCell(window.location.hash);
  if (filters) filters.hidden = false;
  refresh();
  if (linked) section.scrollIntoView();
})();
