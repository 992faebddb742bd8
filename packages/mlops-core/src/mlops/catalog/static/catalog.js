/* The catalog's interactive parts: report routing, the leaderboard (sort, filter, pages, selection,
   hidden columns), training curves, parallel coordinates, the compare view of any number of models
   and the lineage graph (Vega-Lite through vega-embed).
   Every stored string reaches the page through textContent or Vega's text marks, never as HTML. */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("mlops-data").textContent);
  const report = data.mode === "report";
  const PAGE_SIZE = 50;
  const EMBED = {
    renderer: "svg",
    ast: true, // Vega's expression interpreter: no eval, so the pages' CSP needs no 'unsafe-eval'
    actions: { export: true, source: false, compiled: false, editor: false },
  };
  const models = data.models || [];
  const lowerIsBetter = new Set(data.lower_is_better || []);

  // --- small helpers ------------------------------------------------------------------------------

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function link(route) {
    return (report ? "#/" : "/") + route;
  }

  function navigate(route) {
    if (report) window.location.hash = "#/" + route;
    else window.location.assign("/" + route);
  }

  function formatValue(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(5)));
    if (typeof value === "string") return value;
    return JSON.stringify(value);
  }

  function label(model) {
    return model.name + " " + model.version + (model.tags.length ? " [" + model.tags.join(", ") + "]" : "");
  }

  function draw(container, spec) {
    return vegaEmbed(container, spec, EMBED).catch(function (error) {
      container.textContent = "chart failed: " + error;
      console.error(error);
    });
  }

  function setOptions(select, values, keep) {
    const previous = keep ? select.value : "";
    select.replaceChildren(...(select.dataset.any === undefined ? [] : [el("option", { value: "", text: "any" })]));
    for (const value of values) select.append(el("option", { value: value, text: value }));
    if (values.includes(previous)) select.value = previous;
  }

  function sortedUnique(values) {
    return Array.from(new Set(values)).sort((a, b) => String(a).localeCompare(String(b)));
  }

  // --- the leaderboard ------------------------------------------------------------------------------

  const HIDDEN_KEY = "mlops-catalog:hidden-columns"; // the leaderboard's hidden columns, kept by the browser
  const SELECTED_KEY = "mlops-catalog:selected-models"; // its ticked models, kept for the tab

  const board = {
    ready: false,
    sortKey: "created_at",
    sortDir: "desc",
    page: 0,
    selected: loadSelection(),
    columns: [],
    rows: [],
    parallelSet: null,
    hidden: loadHidden(),
  };

  function loadHidden() {
    try {
      return new Set(JSON.parse(window.localStorage.getItem(HIDDEN_KEY) || "[]"));
    } catch (error) {
      return new Set(); // storage refused (a locked-down browser): columns are still hidden for this page
    }
  }

  function saveHidden() {
    try {
      window.localStorage.setItem(HIDDEN_KEY, JSON.stringify(Array.from(board.hidden)));
    } catch (error) {
      /* kept in the page only */
    }
  }

  // The ticked models outlive a page load of `mlops ui` (leaderboard -> compare -> back) for this tab only.
  function loadSelection() {
    try {
      const known = new Set(models.map((m) => m.id));
      const saved = JSON.parse(window.sessionStorage.getItem(SELECTED_KEY) || "[]");
      return new Set(saved.filter((id) => known.has(id)));
    } catch (error) {
      return new Set();
    }
  }

  function saveSelection() {
    try {
      window.sessionStorage.setItem(SELECTED_KEY, JSON.stringify(Array.from(board.selected)));
    } catch (error) {
      /* kept in the page only */
    }
  }

  function shownColumns() {
    return board.columns.filter((c) => !board.hidden.has(c.key));
  }

  function byFrequency(lists) {
    const counts = new Map();
    for (const list of lists) for (const key of list) counts.set(key, (counts.get(key) || 0) + 1);
    return Array.from(counts.keys()).sort((a, b) => counts.get(b) - counts.get(a) || a.localeCompare(b));
  }

  function boardColumns() {
    const params = byFrequency(models.map((m) => Object.keys(m.params)));
    const metrics = byFrequency(models.map((m) => Object.keys(m.last)));
    const columns = [
      { key: "model", label: "model", get: (m) => m.name + " " + m.version },
      { key: "created_at", label: "created", get: (m) => m.created_at },
      { key: "framework", label: "framework", get: (m) => m.framework },
      { key: "dataset", label: "dataset", get: (m) => m.dataset },
      { key: "tags", label: "tags", get: (m) => m.tags.join(", ") },
    ];
    for (const metric of metrics) {
      columns.push({ key: "last:" + metric, label: metric + " (last)", group: "metric", get: (m) => m.last[metric] });
      columns.push({ key: "best:" + metric, label: metric + " (best)", group: "metric", get: (m) => m.best[metric] });
    }
    for (const p of params) columns.push({ key: "param:" + p, label: p, group: "param", get: (m) => m.params[p] });
    return columns;
  }

  function compareValues(a, b) {
    const missingA = a === undefined || a === null || a === "";
    const missingB = b === undefined || b === null || b === "";
    if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return formatValue(a).localeCompare(formatValue(b), undefined, { numeric: true });
  }

  function filteredModels() {
    const tag = document.getElementById("filter-tag").value;
    const framework = document.getElementById("filter-framework").value;
    const dataset = document.getElementById("filter-dataset").value;
    const text = document.getElementById("filter-text").value.trim().toLowerCase();
    return models.filter(
      (m) =>
        (!tag || m.tags.includes(tag)) &&
        (!framework || m.framework === framework) &&
        (!dataset || m.dataset === dataset) &&
        (!text || (m.name + " " + m.version + " " + m.root).toLowerCase().includes(text))
    );
  }

  function sortRows(rows) {
    const column = board.columns.find((c) => c.key === board.sortKey) || board.columns[1];
    const sign = board.sortDir === "asc" ? 1 : -1;
    return rows
      .map((m, index) => [m, index])
      .sort((x, y) => {
        const a = column.get(x[0]);
        const b = column.get(y[0]);
        const missing = (a === undefined || a === null || a === "") - (b === undefined || b === null || b === "");
        return missing || sign * compareValues(a, b) || x[1] - y[1];
      })
      .map((pair) => pair[0]);
  }

  function renderHead() {
    const head = document.querySelector("#board thead");
    const cells = [el("th", { text: "" })];
    for (const column of shownColumns()) {
      const th = el("th", { text: column.label, "data-key": column.key, title: "sort by " + column.label });
      if (column.group) th.className = "group-" + column.group;
      if (column.key === board.sortKey) th.dataset.sort = board.sortDir;
      th.addEventListener("click", function () {
        if (board.sortKey === column.key) board.sortDir = board.sortDir === "asc" ? "desc" : "asc";
        else {
          board.sortKey = column.key;
          const metric = column.key.split(":").slice(1).join(":");
          board.sortDir = column.group === "metric" && lowerIsBetter.has(metric) ? "asc" : "desc";
          if (column.group !== "metric" && column.group !== "param" && column.key !== "created_at") board.sortDir = "asc";
        }
        board.page = 0;
        renderBoard();
      });
      cells.push(th);
    }
    head.replaceChildren(el("tr", {}, cells));
  }

  function cell(model, column) {
    const td = el("td");
    const value = column.get(model);
    if (column.key === "model") {
      td.append(el("a", { href: link("model/" + model.id), text: value, title: model.root }));
      for (const alias of model.aliases || []) td.append(" ", el("span", { className: "alias", text: "@" + alias }));
    } else if (column.key === "tags") {
      for (const tag of model.tags) td.append(el("span", { className: "tag", text: tag }));
    } else if (column.key === "framework") {
      td.textContent = value;
      td.title = model.framework_versions;
    } else if (column.key === "created_at") {
      td.textContent = value.slice(0, 19).replace("T", " ");
    } else {
      td.textContent = formatValue(value);
      if (typeof value === "number") td.className = "num";
    }
    return td;
  }

  function renderBoard() {
    renderHead();
    board.rows = sortRows(filteredModels());
    const pages = Math.max(1, Math.ceil(board.rows.length / PAGE_SIZE));
    board.page = Math.min(board.page, pages - 1);
    const shown = board.rows.slice(board.page * PAGE_SIZE, (board.page + 1) * PAGE_SIZE);
    const body = document.querySelector("#board tbody");
    body.replaceChildren(
      ...shown.map(function (model) {
        const box = el("input", { type: "checkbox", "aria-label": "overlay the curves of " + label(model) });
        box.checked = board.selected.has(model.id);
        box.addEventListener("change", function () {
          if (box.checked) board.selected.add(model.id);
          else board.selected.delete(model.id);
          saveSelection();
          row.classList.toggle("selected", box.checked);
          drawCurves();
          updateCompareButton();
        });
        const row = el("tr", { "data-model": model.id }, [el("td", {}, [box]), ...shownColumns().map((c) => cell(model, c))]);
        row.classList.toggle("selected", box.checked);
        return row;
      })
    );
    const table = document.getElementById("board");
    table.style.setProperty("--select-width", table.querySelector("thead th").offsetWidth + "px"); // where the sticky model column starts
    document.getElementById("board-count").textContent = board.rows.length + " of " + models.length + " models";
    document.getElementById("page-info").textContent = "page " + (board.page + 1) + " of " + pages;
    document.getElementById("page-prev").disabled = board.page === 0;
    document.getElementById("page-next").disabled = board.page >= pages - 1;
    updateCompareButton();
    const shownSet = board.rows.map((m) => m.id).sort().join(",");
    if (shownSet !== board.parallelSet) {
      board.parallelSet = shownSet; // sorting and paging keep the set: no redraw of 1,000 lines
      drawParallel();
    }
  }

  function initBoard(query) {
    if (!board.ready) {
      board.ready = true;
      board.columns = boardColumns();
      const filters = {
        "filter-tag": sortedUnique(models.flatMap((m) => m.tags)),
        "filter-framework": sortedUnique(models.map((m) => m.framework)),
        "filter-dataset": sortedUnique(models.map((m) => m.dataset)),
      };
      for (const [id, values] of Object.entries(filters)) {
        const select = document.getElementById(id);
        select.dataset.any = "";
        setOptions(select, values, false);
        select.addEventListener("change", function () {
          board.page = 0;
          renderBoard();
        });
      }
      document.getElementById("filter-text").addEventListener("input", function () {
        board.page = 0;
        renderBoard();
      });
      document.getElementById("page-prev").addEventListener("click", function () {
        board.page -= 1;
        renderBoard();
      });
      document.getElementById("page-next").addEventListener("click", function () {
        board.page += 1;
        renderBoard();
      });
      document.getElementById("curves-clear").addEventListener("click", function () {
        board.selected.clear();
        saveSelection();
        renderBoard();
        drawCurves();
      });
      document.getElementById("compare-selected").addEventListener("click", function () {
        const ids = models.filter((m) => board.selected.has(m.id)).map((m) => m.id);
        if (ids.length) navigate("compare?ids=" + ids.join(","));
      });
      buildColumnPicker();
      document.getElementById("curves-metric").addEventListener("change", drawCurves);
      document.getElementById("parallel-metric").addEventListener("change", drawParallel);
      document.getElementById("parallel-value").addEventListener("change", drawParallel);
      const metrics = byFrequency(models.map((m) => Object.keys(m.last)));
      setOptions(document.getElementById("parallel-metric"), metrics, false);
    }
    const wanted = query.get("dataset");
    if (wanted !== null) document.getElementById("filter-dataset").value = wanted;
    renderBoard();
    drawCurves();
  }

  function updateCompareButton() {
    const button = document.getElementById("compare-selected");
    const count = board.selected.size;
    button.disabled = count === 0;
    button.textContent = count ? "Compare " + count + " selected" : "Compare selected";
  }

  function buildColumnPicker() {
    const list = document.getElementById("column-list");
    const boxes = board.columns.map(function (column) {
      const box = el("input", { type: "checkbox", "data-column": column.key });
      box.checked = !board.hidden.has(column.key);
      box.disabled = column.key === "model"; // a row needs its link
      box.addEventListener("change", function () {
        if (box.checked) board.hidden.delete(column.key);
        else board.hidden.add(column.key);
        saveHidden();
        renderBoard();
        countHidden();
      });
      return el("label", { className: column.group ? "group-" + column.group : "" }, [box, " " + column.label]);
    });
    list.replaceChildren(...boxes);
    const picker = document.getElementById("column-picker");
    document.addEventListener("click", function (event) {
      if (picker.open && !picker.contains(event.target)) picker.open = false; // a click elsewhere closes it
    });
    document.getElementById("columns-all").addEventListener("click", function () {
      board.hidden.clear();
      saveHidden();
      list.querySelectorAll("input").forEach((box) => (box.checked = true));
      renderBoard();
      countHidden();
    });
    countHidden();
  }

  function countHidden() {
    const hidden = board.columns.filter((c) => board.hidden.has(c.key)).length;
    document.getElementById("columns-hidden").textContent = hidden ? "(" + hidden + " hidden)" : "";
  }

  // --- charts -----------------------------------------------------------------------------------------

  function drawCurves() {
    const container = document.getElementById("curves");
    const chosen = models.filter((m) => board.selected.has(m.id));
    const metricSelect = document.getElementById("curves-metric");
    const metrics = byFrequency((chosen.length ? chosen : models).map((m) => Object.keys(data.histories[m.id] || {})));
    setOptions(metricSelect, metrics, true);
    const metric = metricSelect.value;
    const info = document.getElementById("curves-info");
    if (!chosen.length) {
      info.textContent = "tick models in the table to overlay their curves";
      container.replaceChildren();
      return;
    }
    const values = [];
    for (const model of chosen) {
      const series = (data.histories[model.id] || {})[metric] || [];
      series.forEach(function (value, epoch) {
        if (value !== null) values.push({ model: label(model), epoch: epoch + 1, value: value });
      });
    }
    info.textContent = chosen.length + " selected";
    draw(
      container,
      curveSpec(values, metric, 280, {
        field: "model",
        type: "nominal",
        title: "model",
        legend: { orient: "bottom", columns: 2, labelLimit: 400 },
      })
    );
  }

  // The vega-lite spec of one metric's training curves: `values` ({epoch, value, ...}) as a line
  // per `color.field`, a point on each epoch while there are few of them.
  function curveSpec(values, metric, height, color) {
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: "container",
      height: height,
      data: { values: values },
      mark: { type: "line", point: values.length <= 400, tooltip: true },
      encoding: {
        x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } },
        y: { field: "value", type: "quantitative", title: metric, scale: { zero: false } },
        color: color,
      },
    };
  }

  const NOT_SET = -0.2; // where a model without a parameter meets that axis: its own "n/a" tick below the range

  function isMissing(value) {
    return value === undefined || value === null;
  }

  function drawParallel() {
    const container = document.getElementById("parallel");
    const metric = document.getElementById("parallel-metric").value;
    const which = document.getElementById("parallel-value").value;
    const info = document.getElementById("parallel-info");
    const rows = board.rows.filter((m) => typeof (m[which] || {})[metric] === "number");
    const params = byFrequency(rows.map((m) => Object.keys(m.params)));
    if (!metric || !rows.length || !params.length) {
      info.textContent = rows.length ? "these models record no hyperparameters" : "no model of the table records this metric";
      container.replaceChildren();
      return;
    }
    const axes = [...params, metric + " (" + which + ")"];
    const scales = params.map(function (p) {
      const present = rows.map((m) => m.params[p]).filter((v) => !isMissing(v));
      const missing = present.length < rows.length;
      if (present.every((v) => typeof v === "number")) {
        const lo = Math.min(...present);
        const hi = Math.max(...present);
        return { lo: lo, hi: hi, missing: missing, norm: (v) => (hi === lo ? 0.5 : (v - lo) / (hi - lo)) };
      }
      const categories = sortedUnique(present.map(formatValue));
      const norm = (v) => (categories.length === 1 ? 0.5 : categories.indexOf(formatValue(v)) / (categories.length - 1));
      return { categories: categories, missing: missing, norm: norm };
    });
    const scores = rows.map((m) => m[which][metric]);
    const lo = Math.min(...scores);
    const hi = Math.max(...scores);
    scales.push({ lo: lo, hi: hi, missing: false, norm: (v) => (hi === lo ? 0.5 : (v - lo) / (hi - lo)) });
    const values = [];
    rows.forEach(function (m) {
      const score = m[which][metric];
      axes.forEach(function (axis, index) {
        const raw = index < params.length ? m.params[params[index]] : score;
        const missing = isMissing(raw);
        const y = missing ? NOT_SET : scales[index].norm(raw);
        values.push({ id: m.id, model: label(m), axis: axis, y: y, missing: missing, value: missing ? "n/a (not set)" : formatValue(raw), score: score });
      });
    });
    const ticks = [];
    axes.forEach(function (axis, index) {
      const scale = scales[index];
      if (scale.lo === undefined && !scale.categories.length) {
        ticks.push({ axis: axis, y: NOT_SET, text: "n/a", na: true });
        return;
      }
      const ends = scale.categories ? [[0, scale.categories[0]], [1, scale.categories[scale.categories.length - 1]]] : [[0, formatValue(scale.lo)], [1, formatValue(scale.hi)]];
      for (const [y, text] of ends) ticks.push({ axis: axis, y: y, text: text, na: false });
      if (scale.missing) ticks.push({ axis: axis, y: NOT_SET, text: "n/a", na: true });
    });
    const gaps = scales.filter((scale) => scale.missing).length;
    info.textContent =
      rows.length + " models; lines coloured by " + metric + " (" + which + ")" + (gaps ? "; a model without a parameter meets its axis at n/a" : "");
    const x = { field: "axis", type: "nominal", sort: axes, title: null, axis: { labelAngle: 0, orient: "top", labelLimit: 160 } };
    const y = { field: "y", type: "quantitative", axis: null, scale: { domain: [NOT_SET - 0.05, 1] } };
    draw(container, {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: "container",
      height: 320,
      layer: [
        { data: { values: ticks }, mark: { type: "rule", color: "#999" }, encoding: { x: x, detail: { aggregate: "count" } } },
        {
          data: { values: values },
          mark: { type: "line", opacity: 0.7, strokeWidth: 1.5 },
          encoding: {
            x: x,
            y: y,
            detail: { field: "id", type: "nominal" },
            color: {
              field: "score",
              type: "quantitative",
              title: metric,
              scale: { scheme: "viridis", reverse: lowerIsBetter.has(metric) },
            },
            tooltip: [
              { field: "model", title: "model" },
              { field: "axis", title: "axis" },
              { field: "value", title: "value" },
            ],
          },
        },
        {
          data: { values: ticks },
          transform: [{ filter: "datum.na" }],
          mark: { type: "tick", orient: "horizontal", color: "#c44e52", thickness: 2, size: 14 },
          encoding: { x: x, y: y },
        },
        {
          data: { values: ticks },
          mark: { type: "text", align: "left", dx: 4 },
          encoding: {
            x: x,
            y: y,
            text: { field: "text" },
            color: { condition: { test: "datum.na", value: "#c44e52" }, value: "#555" },
          },
        },
      ],
    });
  }

  function drawModelCurves(container) {
    const history = data.histories[container.dataset.model] || {};
    const values = [];
    for (const [series, points] of Object.entries(history)) {
      const metric = series.startsWith("val_") && series.length > 4 ? series.slice(4) : series;
      points.forEach(function (value, epoch) {
        if (value !== null) values.push({ metric: metric, series: series, epoch: epoch + 1, value: value });
      });
    }
    draw(container, {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      data: { values: values },
      facet: { field: "metric", type: "nominal", title: null },
      columns: 3,
      resolve: { scale: { y: "independent" } },
      spec: {
        width: 300,
        height: 200,
        mark: { type: "line", point: true, tooltip: true },
        encoding: {
          x: { field: "epoch", type: "quantitative", axis: { tickMinStep: 1 } },
          y: { field: "value", type: "quantitative", title: null, scale: { zero: false } },
          color: { field: "series", type: "nominal", title: "curve" },
        },
      },
    });
  }

  // --- the compare view: any number of models side by side -----------------------------------------------

  function flatten(value, prefix, out) {
    if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
      for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? prefix + "." + key : key, out);
    } else if (prefix) out[prefix] = value;
    return out;
  }

  function sameValues(values) {
    const texts = values.map((v) => (isMissing(v) ? "\u0000missing" : typeof v + ":" + JSON.stringify(v)));
    return texts.every((t) => t === texts[0]);
  }

  function versionLabels(chosen) {
    const seen = new Map();
    return chosen.map(function (m) {
      const base = m.name + " " + m.version;
      const count = (seen.get(base) || 0) + 1;
      seen.set(base, count);
      return count === 1 ? base : base + " (" + count + ")";
    });
  }

  function compareTable(id, chosen, labels, rows) {
    const head = el("tr", {}, [
      el("th", { text: "" }),
      ...chosen.map(function (m, i) {
        const th = el("th", { "data-model": m.id }, [el("a", { href: link("model/" + m.id), text: labels[i], title: m.root })]);
        th.append(el("br"), el("span", { className: "muted", text: m.framework }));
        for (const alias of m.aliases || []) th.append(" ", el("span", { className: "alias", text: "@" + alias }));
        return th;
      }),
    ]);
    const body = rows.map(function (row) {
      const differs = !row.plain && !sameValues(row.values);
      const tr = el("tr", { "data-key": row.key, className: differs ? "differs" : "same" }, [el("th", { text: row.label })]);
      row.values.forEach(function (value, i) {
        const td = el("td", { "data-model": chosen[i].id });
        if (row.render) row.render(td, value, i);
        else if (isMissing(value)) {
          td.textContent = "n/a";
          td.classList.add("missing");
        } else {
          td.textContent = formatValue(value);
          if (typeof value === "number") td.classList.add("num");
        }
        if (differs) td.classList.add("differs");
        if (row.best !== undefined && value === row.best) td.classList.add("best");
        tr.append(td);
      });
      return tr;
    });
    return el("div", { className: "table-scroll" }, [
      el("table", { className: "grid compare", id: id }, [el("thead", {}, [head]), el("tbody", {}, body)]),
    ]);
  }

  function datasetCell(td, m) {
    if (m.dataset_id) td.append(el("a", { href: link("dataset/" + m.dataset_id), text: m.dataset }));
    else td.append(m.dataset + " ", el("span", { className: "muted", text: "(not in this catalog)" }));
  }

  function compareDatasets(chosen, labels) {
    const groups = new Map();
    chosen.forEach(function (m, i) {
      const key = m.dataset_id || m.dataset_path;
      if (!groups.has(key)) groups.set(key, { model: m, users: [] });
      groups.get(key).users.push(labels[i]);
    });
    return el(
      "ul",
      { className: "links", id: "compare-datasets" },
      Array.from(groups.values()).map(function (group) {
        const item = el("li", { "data-dataset": group.model.dataset_id || "" });
        datasetCell(item, group.model);
        item.append(" ", el("span", { className: "path", text: group.model.dataset_path }));
        item.append(el("br"), el("span", { className: "muted", text: "trained on it: " + group.users.join(", ") }));
        return item;
      })
    );
  }

  function compareCurves(chosen, labels) {
    const metrics = byFrequency(chosen.map((m) => Object.keys(data.histories[m.id] || {})));
    const box = el("div", { className: "compare-curves" });
    for (const metric of metrics) {
      const values = [];
      chosen.forEach(function (m, i) {
        ((data.histories[m.id] || {})[metric] || []).forEach(function (value, epoch) {
          if (value !== null) values.push({ version: labels[i], epoch: epoch + 1, value: value });
        });
      });
      const chart = el("div", { className: "chart compare-curve", "data-metric": metric });
      box.append(el("div", { className: "curve-panel" }, [el("h3", { text: metric + (lowerIsBetter.has(metric) ? " (lower is better)" : "") }), chart]));
      draw(
        chart,
        curveSpec(values, metric, 220, {
          field: "version",
          type: "nominal",
          title: "version",
          scale: { domain: labels }, // the same colour for a version in every chart
          legend: { orient: "bottom", columns: 1, labelLimit: 400 },
        })
      );
    }
    if (!metrics.length) box.append(el("p", { className: "muted", text: "none of these models records a training history" }));
    return box;
  }

  function drawCompare(root, query) {
    const container = root.querySelector("#compare-models");
    const help = container.querySelector("#compare-help");
    const asked = (query.get("ids") || "").split(",").filter(Boolean);
    const byId = new Map(models.map((m) => [m.id, m]));
    const chosen = Array.from(new Set(asked)).filter((id) => byId.has(id)).map((id) => byId.get(id));
    container.replaceChildren(help);
    help.hidden = chosen.length > 0;
    if (asked.length > chosen.length) {
      container.append(el("p", { className: "note", text: asked.length - chosen.length + " of the versions asked for are not models of this catalog." }));
    }
    if (!chosen.length) return;
    const labels = versionLabels(chosen);
    const params = chosen.map((m) => flatten(m.params, "", {}));
    const keys = byFrequency(params.map((p) => Object.keys(p)));
    const paramRows = keys.map((key) => ({ key: key, label: key, values: params.map((p) => p[key]) }));
    const differing = paramRows.filter((row) => !sameValues(row.values)).length;
    const summary = [
      { key: "framework", label: "framework", values: chosen.map((m) => m.framework) },
      { key: "dataset", label: "dataset", values: chosen.map((m) => m.dataset_path), render: (td, v, i) => datasetCell(td, chosen[i]) },
      { key: "created_at", label: "created", plain: true, values: chosen.map((m) => m.created_at.slice(0, 19).replace("T", " ")) },
      { key: "tags", label: "tags", values: chosen.map((m) => m.tags.join(", ")) },
    ];
    const metricRows = [];
    for (const metric of byFrequency(chosen.map((m) => Object.keys(m.last)))) {
      for (const which of ["last", "best"]) {
        const values = chosen.map((m) => m[which][metric]);
        const present = values.filter((v) => typeof v === "number");
        const best = present.length ? (lowerIsBetter.has(metric) ? Math.min(...present) : Math.max(...present)) : undefined;
        metricRows.push({ key: which + ":" + metric, label: metric + " (" + which + ")", values: values, best: present.length > 1 ? best : undefined });
      }
    }
    const onlyDiffering = el("input", { type: "checkbox", id: "compare-only-differing" });
    const paramTable = compareTable("compare-params", chosen, labels, [...summary, ...paramRows]);
    onlyDiffering.addEventListener("change", function () {
      paramTable.querySelectorAll("tbody tr.same").forEach((tr) => (tr.hidden = onlyDiffering.checked));
    });
    container.append(
      el("p", { className: "muted", text: chosen.length + (chosen.length === 1 ? " model" : " models") + "; " + differing + " of " + keys.length + " training arguments differ (highlighted); n/a: not set for that model" }),
      el("h2", { text: "Parameters" }),
      el("label", { className: "filters" }, [onlyDiffering, " show only the rows that differ"]),
      paramTable,
      el("h2", { text: "Metrics" }),
      metricRows.length
        ? compareTable("compare-metrics", chosen, labels, metricRows)
        : el("p", { className: "muted", text: "none of these models records a metric" }),
      el("p", { className: "muted", text: "In bold: the best value of each row (the minimum of losses and errors, the maximum of any other metric)." }),
      el("h2", { text: "Training curves" }),
      compareCurves(chosen, labels),
      el("h2", { text: "Datasets" }),
      compareDatasets(chosen, labels)
    );
  }

  function drawLineage(container) {
    const nodes = data.lineage.nodes;
    const where = new Map(nodes.map((n) => [n.id, n]));
    const edges = data.lineage.edges
      .filter(([a, b]) => where.has(a) && where.has(b))
      .map(([a, b]) => ({ x: where.get(a).column, y: where.get(a).row, x2: where.get(b).column, y2: where.get(b).row }));
    const rows = Math.max(1, ...nodes.map((n) => n.row + 1));
    const shown = nodes.map((n) => ({ ...n, text: n.label.length > 48 ? n.label.slice(0, 47) + "\u2026" : n.label }));
    // a version's aliases, as "@name" badges left of its node (the edges come in from further left)
    const badges = shown.filter((n) => (n.aliases || []).length).map((n) => ({ ...n, badge: n.aliases.map((a) => "@" + a).join(" ") }));
    const x = { field: "column", type: "quantitative", axis: null, scale: { domain: [-0.05, 3] } };
    const y = { field: "row", type: "quantitative", axis: null, scale: { domain: [-0.5, rows - 0.5], reverse: true } };
    draw(container, {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: "container",
      height: Math.max(160, rows * 26),
      layer: [
        {
          data: { values: edges },
          mark: { type: "rule", color: "#bbb" },
          encoding: {
            x: { ...x, field: "x" },
            y: { ...y, field: "y" },
            x2: { field: "x2" },
            y2: { field: "y2" },
          },
        },
        {
          data: { values: shown },
          mark: { type: "circle", size: 140, opacity: 1, cursor: "pointer" },
          encoding: {
            x: x,
            y: y,
            color: {
              field: "kind",
              type: "nominal",
              title: null,
              scale: { domain: ["raw", "dataset", "external", "model", "models"], range: ["#8c8c8c", "#4c72b0", "#c7c7c7", "#dd8452", "#c44e52"] },
              legend: { orient: "top" },
            },
            tooltip: [{ field: "label", title: "node" }],
          },
        },
        {
          data: { values: shown },
          mark: { type: "text", align: "left", dx: 10, cursor: "pointer" },
          encoding: { x: x, y: y, text: { field: "text" }, tooltip: [{ field: "label", title: "node" }] },
        },
        {
          data: { values: badges },
          mark: { type: "text", align: "right", dx: -10, fontWeight: "bold", color: "#953800", cursor: "pointer" },
          encoding: { x: x, y: y, text: { field: "badge" }, tooltip: [{ field: "label", title: "node" }] },
        },
      ],
    }).then(function (result) {
      if (!result) return;
      result.view.addEventListener("click", function (event, item) {
        const target = item && item.datum && item.datum.target;
        if (target) navigate(target);
      });
    });
  }

  // --- views ------------------------------------------------------------------------------------------

  function activate(root, query) {
    const drawn = root.dataset.drawn === "1";
    root.dataset.drawn = "1";
    if (root.querySelector("#board")) initBoard(query);
    if (root.querySelector("#compare-models")) drawCompare(root, query);
    if (drawn) return;
    root.querySelectorAll(".model-curves").forEach(drawModelCurves);
    const lineage = root.querySelector("#lineage");
    if (lineage) drawLineage(lineage);
    const form = root.querySelector("#compare-form");
    if (form && report) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        navigate("compare/" + form.elements.a.value + "/" + form.elements.b.value);
      });
    }
  }

  function showRoute() {
    const hash = window.location.hash.replace(/^#\/?/, "");
    const mark = hash.indexOf("?");
    const route = decodeURIComponent(mark < 0 ? hash : hash.slice(0, mark));
    const search = mark < 0 ? "" : hash.slice(mark + 1);
    const sections = Array.from(document.querySelectorAll("section[data-route]"));
    const found = sections.find((s) => s.dataset.route === route) || sections.find((s) => s.dataset.route === "missing");
    for (const section of sections) section.hidden = section !== found;
    const nav = route.split("/")[0] || "roots";
    document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
    activate(found, new URLSearchParams(search));
    window.scrollTo(0, 0);
  }

  if (report) {
    window.addEventListener("hashchange", showRoute);
    showRoute();
  } else {
    activate(document.querySelector("main"), new URLSearchParams(window.location.search));
  }
})();
