#!/usr/bin/env python3
"""Drives the daemon's web page in headless Chromium, as a person would: types a query in
the search box, presses Enter, waits until the thumbnails have loaded, saves a screenshot.

    search_page.py BASE_URL QUERY SCREENSHOT.png [QUESTION] [--after YYYY-MM-DD] [--before YYYY-MM-DD]
                   [--folder SUFFIX] [--sort date] [--similar] [--duplicates]

Prints one JSON object: {"results": N, "loaded": N, "captions": [...], "alts": [...], "message": "..."}.
With QUESTION it then opens the first photo, types the question in "Ask about this photo",
waits for the answer and adds {"viewer_caption": "...", "answer": "..."} (screenshot of the
viewer in SCREENSHOT with "-ask" before its extension). The filter options set the page's
date fields, choose the first folder in the folder chooser whose path ends with SUFFIX, and
set the sort switch, before the query is typed. With --similar it then opens the first photo,
presses "More like this" and adds {"similar": [captions of the new grid]}. With --duplicates it
then presses "Duplicates" and adds {"duplicates": [[captions of each group, in order]]} and
"duplicates_loaded" (thumbnails shown), with a second screenshot (-duplicates.png).
Exits non-zero if the page shows no loaded thumbnail within 30 s. Needs Debian's chromium,
chromium-driver and python3-selenium.
"""
import argparse
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("base_url", "query", "screenshot"):
        parser.add_argument(name)
    parser.add_argument("question", nargs="?")
    for name in ("--after", "--before", "--folder", "--sort"):
        parser.add_argument(name)
    parser.add_argument("--similar", action="store_true")
    parser.add_argument("--duplicates", action="store_true")
    arguments = parser.parse_args()
    base_url, query, screenshot = arguments.base_url, arguments.query, arguments.screenshot
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--no-first-run"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(base_url + "/")
        for field in ("after", "before"):
            if getattr(arguments, field):  # typing into a date field depends on the locale
                driver.execute_script("document.getElementById(arguments[0]).value = arguments[1]", field,
                                      getattr(arguments, field))
        if arguments.folder:
            folder = lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, "#under option")  # noqa: E731
                                if o.get_attribute("value").endswith(arguments.folder)]
            WebDriverWait(driver, 10).until(lambda d: folder(d))
            folder(driver)[0].click()
        if arguments.sort:
            driver.find_element(By.CSS_SELECTOR, f"#sort option[value='{arguments.sort}']").click()
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
        if arguments.similar:
            driver.find_elements(By.CSS_SELECTOR, "#grid .hit")[0].click()
            WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "viewer").get_attribute("open") is not None)
            driver.find_element(By.ID, "viewer-similar").click()
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "message").text.startswith(
                tuple(str(n) for n in range(10))) and " images like " in d.find_element(By.ID, "message").text)
            report["similar"] = [element.text for element in driver.find_elements(By.CSS_SELECTOR, "#grid .hit figcaption")]
        if arguments.duplicates:
            driver.find_element(By.ID, "duplicates").click()
            WebDriverWait(driver, 30).until(lambda d: "groups of duplicates" in d.find_element(By.ID, "message").text)
            WebDriverWait(driver, 30).until(
                lambda d: d.execute_script(loaded) == len(d.find_elements(By.CSS_SELECTOR, "#grid .hit img")))
            report["duplicates"] = [[caption.text for caption in group.find_elements(By.CSS_SELECTOR, "figcaption")]
                                    for group in driver.find_elements(By.CSS_SELECTOR, "#grid .group")]
            report["duplicates_loaded"] = driver.execute_script(loaded)
            report["duplicates_message"] = driver.find_element(By.ID, "message").text
            driver.save_screenshot(screenshot.replace(".png", "-duplicates.png"))
        if arguments.question:
            driver.find_elements(By.CSS_SELECTOR, "#grid .hit")[0].click()
            WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "viewer").get_attribute("open") is not None)
            report["viewer_caption"] = driver.find_element(By.ID, "viewer-caption").text
            question = driver.find_element(By.ID, "ask-question")
            question.send_keys(arguments.question)
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
