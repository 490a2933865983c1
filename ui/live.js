// One polling loop: it runs `task` every `interval` ms while the page is visible, so new jobs and
// changes made elsewhere show up on their own; a hidden page stops it, coming back resumes it.

export function createPoller(task, interval = 3000) {
  let timer = null;
  let running = false;
  let again = false;

  const visible = () => document.visibilityState === 'visible';

  function schedule() {
    clearTimeout(timer);
    timer = visible() ? setTimeout(run, interval) : null;
  }

  async function run() {
    clearTimeout(timer);
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await task();
    } catch (error) {
      console.warn('refresh failed', error);
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      run();
    } else {
      schedule();
    }
  }

  document.addEventListener('visibilitychange', () => {
    if (visible()) run();
    else {
      clearTimeout(timer);
      timer = null;
    }
  });

  return {
    /** Refresh now (after an action or a filter change), then keep the rhythm. */
    now() {
      if (visible()) run();
    },
  };
}
