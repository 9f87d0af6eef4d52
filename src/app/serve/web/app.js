// The emu35 web page: submits Cog predictions (Prefer: respond-async), follows
// each one's server-sent events for progress and previews, and keeps the
// finished pictures in a gallery. Plain JavaScript, nothing fetched from
// elsewhere.
'use strict';

const $ = (id) => document.getElementById(id);
const refs = [];  // {name, dataUri}
const stats = { progress: 0, previews: 0, done: 0 };

function count(kind) {
  stats[kind] += 1;
  document.body.dataset[kind + 'Events'] = String(stats[kind]);
}

// ---- server state -------------------------------------------------------
async function pollHealth() {
  const pill = $('health');
  try {
    const r = await fetch('/health-check', { cache: 'no-store' });
    const j = await r.json();
    pill.textContent = j.status + (j.queue_depth ? ` · ${j.queue_depth} queued` : '');
    pill.className = 'pill ' + j.status.toLowerCase();
    pill.title = j.setup && j.setup.logs ? j.setup.logs : `${j.active}/${j.max_batch} drawing`;
  } catch (e) {
    pill.textContent = 'offline';
    pill.className = 'pill failed';
  }
}

// ---- reference pictures -------------------------------------------------
function readAsDataUri(file) {
  return new Promise((resolve, reject) => {
    const fr = new FileReader();
    fr.onload = () => resolve(fr.result);
    fr.onerror = () => reject(fr.error);
    fr.readAsDataURL(file);
  });
}

async function addFiles(files) {
  for (const f of files) {
    if (!/^image\/(png|jpeg|webp)$/.test(f.type)) {
      showError(`${f.name}: only PNG, JPEG and WebP pictures`);
      continue;
    }
    refs.push({ name: f.name, dataUri: await readAsDataUri(f) });
  }
  renderRefs();
  if (refs.length && $('task_type').value === 't2i') $('task_type').value = 'x2i';
}

function renderRefs() {
  const box = $('refs');
  box.replaceChildren();
  refs.forEach((r, i) => {
    const d = document.createElement('div');
    d.className = 'ref';
    const img = document.createElement('img');
    img.src = r.dataUri;
    img.alt = r.name;
    img.title = r.name;
    const x = document.createElement('button');
    x.type = 'button';
    x.className = 'remove';
    x.textContent = '×';
    x.title = 'remove';
    x.onclick = () => { refs.splice(i, 1); renderRefs(); };
    d.append(img, x);
    box.append(d);
  });
}

function setupDrop() {
  const drop = $('drop');
  const input = $('files');
  drop.onclick = () => input.click();
  drop.onkeydown = (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } };
  input.onchange = () => { addFiles(Array.from(input.files)); input.value = ''; };
  drop.ondragover = (e) => { e.preventDefault(); drop.classList.add('over'); };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    addFiles(Array.from(e.dataTransfer.files));
  };
}

// ---- the request ----------------------------------------------------------
const numberFields = {
  seed: 'int', max_new_tokens: 'int', text_top_k: 'int', image_top_k: 'int', image_area: 'int',
  guidance_scale: 'float', image_cfg_scale: 'float', text_top_p: 'float', image_top_p: 'float',
  text_temperature: 'float', image_temperature: 'float',
};

function buildInput() {
  const input = {
    task_type: $('task_type').value,
    prompt: $('prompt').value,
    ratio: $('ratio').value,
    output_format: $('output_format').value,
  };
  for (const [k, kind] of Object.entries(numberFields)) {
    const v = $(k).value.trim();
    if (v === '') continue;
    input[k] = kind === 'int' ? parseInt(v, 10) : parseFloat(v);
  }
  const ts = $('target_size').value.trim();
  if (ts) input.target_size = ts;
  if ($('start_image').checked) input.start_image = true;
  if (refs.length) input.reference_image = refs.map((r) => r.dataUri);
  return input;
}

function showError(msg) { $('form-error').textContent = msg || ''; }

function errorText(j, status) {
  if (j && Array.isArray(j.detail)) return j.detail.map((d) => d.msg).join('; ');
  if (j && typeof j.detail === 'string') return j.detail;
  return `HTTP ${status}`;
}

async function submit(e) {
  e.preventDefault();
  showError('');
  const input = buildInput();
  if (!input.prompt.trim()) { showError('Write a prompt first.'); return; }
  let r, j;
  try {
    r = await fetch('/predictions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Prefer': 'respond-async' },
      body: JSON.stringify({ input }),
    });
    j = await r.json();
  } catch (err) {
    showError('The server did not answer: ' + err);
    return;
  }
  if (!r.ok) { showError(errorText(j, r.status)); return; }
  follow(j, input);
}

// ---- progress -----------------------------------------------------------
function follow(pred, input) {
  const running = $('running');
  running.querySelector('.empty')?.remove();
  const node = $('job-template').content.firstElementChild.cloneNode(true);
  node.dataset.id = pred.id;
  node.querySelector('.job-title').textContent = `${input.task_type}: ${input.prompt.slice(0, 60)}`;
  const fill = node.querySelector('.fill');
  const status = node.querySelector('.job-status');
  const preview = node.querySelector('.preview');
  const cancel = node.querySelector('.cancel');
  cancel.onclick = () => fetch(`/predictions/${pred.id}/cancel`, { method: 'POST' });
  running.prepend(node);

  const es = new EventSource(`/predictions/${pred.id}/events`);
  es.addEventListener('progress', (ev) => {
    count('progress');
    const p = JSON.parse(ev.data);
    let frac = 0, text;
    if (p.status === 'starting') {
      text = p.queue_position > 0 ? `queued, position ${p.queue_position}` : 'starting';
    } else if (p.in_image && p.rows_total > 0) {
      frac = p.rows_done / p.rows_total;
      text = `drawing picture ${p.images_done + 1}: row ${p.rows_done} of ${p.rows_total}`;
    } else {
      frac = p.max_new_tokens ? p.tokens / p.max_new_tokens : 0;
      text = p.status === 'processing' ? 'writing' : p.status;
    }
    if (p.tokens) text += ` · ${p.tokens} tokens · ${p.tokens_per_second.toFixed(1)} tok/s`;
    fill.style.width = `${Math.round(Math.min(1, frac) * 100)}%`;
    status.textContent = text;
    node.dataset.rowsDone = String(p.rows_done);
  });
  es.addEventListener('preview', (ev) => {
    count('previews');
    const p = JSON.parse(ev.data);
    preview.src = p.image;
    preview.hidden = false;
  });
  es.addEventListener('done', (ev) => {
    es.close();
    count('done');
    const p = JSON.parse(ev.data);
    node.remove();
    if (!running.querySelector('.job')) running.innerHTML = '<p class="empty">Nothing running.</p>';
    addResult(p, input);
  });
  es.onerror = () => {
    // The browser reconnects by itself; a prediction that is gone stays failed.
    if (es.readyState === EventSource.CLOSED) status.textContent = 'lost the connection';
  };
}

function addResult(p, input) {
  const gallery = $('gallery');
  gallery.querySelector('.empty')?.remove();
  if (p.status !== 'succeeded') {
    const d = document.createElement('div');
    d.className = 'card failed';
    d.textContent = `${p.status}: ${p.error || ''} (${input.prompt.slice(0, 60)})`;
    gallery.prepend(d);
    return;
  }
  const ext = { png: 'png', jpeg: 'jpg', webp: 'webp' }[input.output_format] || 'png';
  (p.output || []).forEach((uri, i) => {
    const card = $('card-template').content.firstElementChild.cloneNode(true);
    const img = card.querySelector('img');
    img.src = uri;
    img.alt = input.prompt;
    card.querySelector('.caption').textContent = input.prompt;
    const secs = p.metrics && p.metrics.predict_time ? `${p.metrics.predict_time.toFixed(1)} s` : '';
    card.querySelector('.meta').textContent = `seed ${p.seed} · ${secs}`;
    const a = card.querySelector('.download');
    a.href = uri;
    a.download = `emu35-${p.id}-${i}.${ext}`;
    gallery.prepend(card);
  });
  if (p.text && p.text.length) {
    const d = document.createElement('div');
    d.className = 'card text';
    d.textContent = p.text.join('\n\n');
    gallery.prepend(d);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  setupDrop();
  $('form').addEventListener('submit', submit);
  $('dice').onclick = () => { $('seed').value = Math.floor(Math.random() * 2 ** 31); };
  pollHealth();
  setInterval(pollHealth, 3000);
});
