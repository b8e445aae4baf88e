// The guard bot's verification Web App. Telegram opens it with signed initData in the URL fragment
// (#tgWebAppData=…, core.telegram.org/bots/webapps); the API checks the signature and answers for that user only.
const TEXTS = {
  en: {
    title: 'Join {group}',
    missing: 'Join these channels first, then press "Check":',
    join: 'Join {title}',
    check: 'Check',
    checking: 'Checking…',
    stillMissing: 'Not joined yet. Join the channels above, then check again.',
    slow: 'Still checking. Press "Check" again in a moment.',
    approved: 'Done! Your request to join {group} is approved.',
    declined: 'Your request to join {group} expired. You can ask again.',
    queued: "Time's up: the group's admins will decide on your request.",
    closed: 'Your request is no longer waiting here.',
    noRequest: 'No join request of yours is waiting here.',
    refused: 'Please open this page from Telegram.',
    stale: 'This page is too old: open it again from Telegram.',
    failed: 'Something went wrong. Please try again.',
  },
  ru: {
    title: 'Вступление в {group}',
    missing: 'Сначала подпишитесь на эти каналы, затем нажмите «Проверить»:',
    join: 'Подписаться: {title}',
    check: 'Проверить',
    checking: 'Проверяю…',
    stillMissing: 'Подписка не найдена. Подпишитесь на каналы выше и проверьте снова.',
    slow: 'Проверка ещё идёт. Нажмите «Проверить» чуть позже.',
    approved: 'Готово! Заявка в {group} одобрена.',
    declined: 'Заявка в {group} истекла. Можно подать её снова.',
    queued: 'Время вышло: решение по заявке примут администраторы группы.',
    closed: 'Заявка больше не ждёт здесь.',
    noRequest: 'Здесь нет вашей заявки.',
    refused: 'Откройте эту страницу из Telegram.',
    stale: 'Страница устарела: откройте её снова из Telegram.',
    failed: 'Что-то пошло не так. Попробуйте ещё раз.',
  },
};

const query = new URLSearchParams(location.search);
const fragment = new URLSearchParams(location.hash.slice(1));
const initData = globalThis.Telegram?.WebApp?.initData || fragment.get('tgWebAppData') || '';
const request = { initData, bot: query.get('bot'), chat: query.get('chat') };
let language = (navigator.language || 'en').slice(0, 2) in TEXTS ? navigator.language.slice(0, 2) : 'en';

const $ = (id) => document.getElementById(id);
const t = (key, vars = {}) =>
  (TEXTS[language]?.[key] ?? TEXTS.en[key]).replace(/\{(\w+)\}/g, (m, name) => vars[name] ?? m);

function render(view, note) {
  if (view.group?.language in TEXTS) language = view.group.language;
  const group = view.group?.title ?? '';
  $('title').textContent = t('title', { group });
  $('check').textContent = t('check');
  const list = $('channels');
  list.replaceChildren();
  const waiting = view.state === 'web_app';
  if (waiting) {
    for (const channel of view.missing) {
      const item = document.createElement('li');
      if (channel.link) {
        const link = document.createElement('a');
        link.className = 'join';
        link.href = channel.link;
        link.target = '_blank';
        link.rel = 'noopener';
        link.textContent = t('join', { title: channel.title });
        item.append(link);
      } else item.textContent = channel.title;
      list.append(item);
    }
  }
  $('check').hidden = !waiting;
  $('message').textContent = waiting ? (note ?? t('missing')) : t(view.state, { group });
}

function fail(code) {
  $('title').textContent = '';
  $('check').hidden = true;
  $('channels').replaceChildren();
  const key =
    code === 'no_request'
      ? 'noRequest'
      : code === 'stale_init_data'
        ? 'stale'
        : code === 'invalid_init_data'
          ? 'refused'
          : 'failed';
  $('message').textContent = t(key);
}

async function call(path) {
  const res = await fetch(`./join/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error?.code ?? 'failed');
  return body;
}

$('check').addEventListener('click', async () => {
  $('check').disabled = true;
  $('message').textContent = t('checking');
  try {
    const view = await call('check');
    render(view, view.state === 'web_app' ? (view.checked ? t('stillMissing') : t('slow')) : undefined);
  } catch (err) {
    fail(err.message);
  } finally {
    $('check').disabled = false;
  }
});

globalThis.Telegram?.WebApp?.ready?.();
call('state').then(render, (err) => fail(err.message));
