#!/usr/bin/env python3
"""Drives the daemon's web page in headless Chromium, as a person would: types a query in
the search box, presses Enter, waits until the thumbnails have loaded, saves a screenshot.

    search_page.py BASE_URL QUERY SCREENSHOT.png [QUESTION]

Prints one JSON object: {"results": N, "loaded": N, "captions": [...], "alts": [...], "message": "..."}.
With QUESTION it then opens the first photo, types the question in "Ask about this photo",
waits for the answer and adds {"viewer_caption": "...", "answer": "..."} (screenshot of the
viewer in SCREENSHOT with "-ask" before its extension).
Exits non-zero if the page shows no loaded thumbnail within 30 s. Needs Debian's chromium,
chromium-driver and python3-selenium.
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait


def main() -> int:
    base_url, query, screenshot = sys.argv[1:4]
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--no-first-run"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(base_url + "/")
        box = driver.find_element(By.ID, "q")
        box.send_keys(query)
        box.send_keys(Keys.ENTER)
        loaded = """return [...document.querySelectorAll('#grid .hit img')]
                    .filter(img => img.complete && img.naturalWidth > 0).length"""
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script(loaded) > 0
            and d.execute_script(loaded) == len(d.find_elements(By.CSS_SELECTOR, "#grid .hit img")))
        captions = [element.text for element in driver.find_elements(By.CSS_SELECTOR, "#grid .hit figcaption")]
        driver.save_screenshot(screenshot)
        report = {
            "results": len(captions),
            "loaded": driver.execute_script(loaded),
            "captions": captions,
            "alts": [image.get_attribute("alt") for image in driver.find_elements(By.CSS_SELECTOR, "#grid .hit img")],
            "message": driver.find_element(By.ID, "message").text,
        }
        if len(sys.argv) > 4:
            driver.find_elements(By.CSS_SELECTOR, "#grid .hit")[0].click()
            WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "viewer").get_attribute("open") is not None)
            report["viewer_caption"] = driver.find_element(By.ID, "viewer-caption").text
            question = driver.find_element(By.ID, "ask-question")
            question.send_keys(sys.argv[4])
            question.send_keys(Keys.ENTER)
            answer = lambda d: d.find_element(By.ID, "ask-answer").text  # noqa: E731
            WebDriverWait(driver, 60).until(lambda d: answer(d) and answer(d) != "Thinking…")
            report["answer"] = answer(driver)
            driver.save_screenshot(screenshot.replace(".png", "-ask.png"))
        print(json.dumps(report))
        return 0
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
