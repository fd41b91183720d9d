"""Screenshot of the leaderboard site's front page, taken by headless Chromium (for the README).

    python tools/site_screenshot.py [--site leaderboard/site] [--out docs/leaderboard-site.png]
"""
import argparse
import time
from pathlib import Path

from browser import chromium  # tools/browser.py, beside this script


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", type=Path, default=Path("leaderboard/site"))
    ap.add_argument("--out", type=Path, default=Path("docs/leaderboard-site.png"))
    ap.add_argument("--width", type=int, default=1300)
    ap.add_argument("--height", type=int, default=1400)
    args = ap.parse_args()
    browser = chromium(args.width, args.height)
    try:
        browser.get((args.site / "index.html").resolve().as_uri())
        time.sleep(0.5)  # let the fonts settle
        browser.save_screenshot(str(args.out))
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        browser.quit()
    print(f"wrote {args.out}" + (f"; console errors: {errors}" if errors else ""))


if __name__ == "__main__":
    main()
