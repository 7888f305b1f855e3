//! Using the console on a phone-sized screen, and with the keyboard alone.

use fantoccini::key::Key;

use crate::harness::{Browser, TestApp, ADMIN_EMAIL, ADMIN_NAME, ADMIN_PASSWORD, SLUG, SUBMIT};
use crate::steps::{create_profile, open_dialog, open_menu, row, NewProfile, DIALOG};

pub const PHONE_WIDTH: f64 = 360.0;
/// Rounding of sub-pixel layout.
const SLACK: f64 = 2.0;

/// How wide the page's content is, and how wide the window shows it.
async fn widths(b: &Browser) -> anyhow::Result<(f64, f64)> {
    let answer = b.client.execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![]).await?;
    let pair = answer.as_array().cloned().unwrap_or_default();
    let number = |i: usize| pair.get(i).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    Ok((number(0), number(1)))
}

/// What reaches past the window's right edge without a scrolling box that clips it (a
/// scroll box does not clip an absolutely positioned descendant whose containing block
/// lies outside it): elements as `tag#id.class "text"`, and text that does not wrap as
/// `text in tag "text"`.
const OVERFLOWING: &str = r##"
    const limit = document.documentElement.clientWidth + 2;
    const clipped = (e) => {
        let free = ["absolute", "fixed"].includes(getComputedStyle(e).position);
        for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
            const style = getComputedStyle(a);
            if (!free && style.overflowX !== "visible") return true;
            if (style.position !== "static") free = false;
        }
        return false;
    };
    const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
        + (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : "");
    const quote = (text) => " \"" + text.trim().slice(0, 40) + "\"";
    const found = [];
    const wide = Array.from(document.body.querySelectorAll("*")).filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.right > limit && !clipped(e);
    });
    wide.filter((e) => !wide.some((w) => w !== e && w.contains(e) && getComputedStyle(e).position === "static"))
        .forEach((e) => found.push(name(e) + quote(e.textContent)
            + " (right edge " + Math.round(e.getBoundingClientRect().right) + "px)"));
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
        const parent = t.parentElement;
        if (!t.textContent.trim() || wide.includes(parent) || clipped(t.parentElement)) continue;
        const range = document.createRange();
        range.selectNodeContents(t);
        const r = range.getBoundingClientRect();
        if (r.width > 0 && r.right > limit) {
            found.push("text in " + name(parent) + quote(t.textContent) + " (right edge " + Math.round(r.right) + "px)");
        }
    }
    return found.slice(0, 5);
"##;

/// Fails when the page scrolls sideways at phone width, naming what sticks out.
pub async fn fits(b: &Browser, what: &str) -> anyhow::Result<()> {
    let (content, window) = widths(b).await?;
    assert!(window <= PHONE_WIDTH + SLACK, "the window is {window}px wide, not a phone's");
    if content > PHONE_WIDTH + SLACK {
        let culprits = b.client.execute(OVERFLOWING, vec![]).await?;
        panic!("{what}: the page is {content}px wide in a {window}px window; too wide: {culprits}");
    }
    Ok(())
}

/// The left and right edges of an element, in CSS pixels of the viewport.
async fn edges(b: &Browser, css: &str) -> anyhow::Result<(f64, f64)> {
    let (x, _, width, _) = b.wait_for(css).await?.rectangle().await?;
    Ok((x, x + width))
}

async fn within_screen(b: &Browser, css: &str) -> anyhow::Result<()> {
    let (left, right) = edges(b, css).await?;
    assert!(left >= -SLACK && right <= PHONE_WIDTH + SLACK, "`{css}` spans {left}..{right}px");
    Ok(())
}

pub async fn the_new_profile_form_works_on_a_360px_screen() {
    let app = TestApp::seeded().await;
    app.in_browser(|b| async move {
        b.client.set_window_size(PHONE_WIDTH as u32, 760).await?;
        b.sign_in_admin().await?;
        fits(&b, "the dashboard").await?;
        b.goto(&format!("/t/{SLUG}/smtp")).await?;
        fits(&b, "the empty profile list").await?;
        b.goto(&format!("/t/{SLUG}/smtp/new")).await?;
        fits(&b, "the new-profile form").await?;
        for field in ["#name", "#kind", "#host", "#security", "#port", "#username", "#password", SUBMIT] {
            within_screen(&b, field).await?;
        }

        // Filled in, with its errors shown, and saved at this width.
        b.fill("#port", "0").await?;
        b.click_and_load(SUBMIT).await?;
        fits(&b, "the form with its errors").await?;
        within_screen(&b, "#error-summary").await?;
        within_screen(&b, "#error-port").await?;
        let office = create_profile(&b, &NewProfile::offline("Office")).await?;

        // The test dialog fits too.
        open_dialog(&b, office, "test").await?;
        within_screen(&b, DIALOG).await?;
        within_screen(&b, &format!("{DIALOG} #to")).await?;
        within_screen(&b, &format!("{DIALOG} button[type=submit]")).await?;
        Ok(())
    })
    .await;
}

pub async fn the_profile_list_and_edit_form_fit_a_360px_screen() {
    let app = TestApp::seeded().await;
    app.in_browser(|b| async move {
        b.client.set_window_size(PHONE_WIDTH as u32, 760).await?;
        b.sign_in_admin().await?;
        // A name of 25 of the 50 characters allowed, with no place to break it.
        let office = create_profile(&b, &NewProfile::offline("Office_Headquarters_Relay")).await?;
        create_profile(&b, &NewProfile::offline("Backup")).await?;
        fits(&b, "the profile list").await?;
        open_menu(&b, office).await?;
        fits(&b, "the list with an actions menu open").await?;
        for item in ["a[href$='/duplicate']", "a[data-dialog='test']", "a[data-dialog='delete']"] {
            within_screen(&b, &format!("{} {item}", row(office))).await?;
        }
        b.goto(&format!("/t/{SLUG}/smtp/{office}")).await?;
        fits(&b, "the edit form").await?;
        within_screen(&b, SUBMIT).await?;
        Ok(())
    })
    .await;
}

pub async fn tab_reaches_the_sign_in_fields_and_enter_signs_in() {
    let app = TestApp::seeded().await;
    app.in_browser(|b| async move {
        b.goto(&format!("/t/{SLUG}/login")).await?;
        assert_eq!(b.focused_id().await?, "email", "the email field has the focus when the page opens");

        // Back to the top of the page: the skip link comes first, and leads to the form.
        let tab = Key::Tab.to_string();
        let back = Key::Shift + &tab;
        b.press(&back).await?;
        assert_eq!(b.client.active_element().await?.text().await?, "relaydesk");
        b.press(&back).await?;
        assert_eq!(b.client.active_element().await?.text().await?, "Skip to content");
        b.press(&Key::Enter.to_string()).await?;
        b.press(&tab).await?;
        assert_eq!(b.focused_id().await?, "email", "Tab after the skip link reaches the email");

        b.press(ADMIN_EMAIL).await?;
        b.press(&tab).await?;
        assert_eq!(b.focused_id().await?, "password", "Tab goes from the email to the password");
        b.press(ADMIN_PASSWORD).await?;
        let old_page = b.client.find(fantoccini::Locator::Css("html")).await?;
        b.press(&Key::Enter.to_string()).await?;
        b.wait_for_new_page(old_page).await?;
        assert_eq!(b.current_path().await?, format!("/t/{SLUG}/"));
        assert_eq!(b.text_of("#current-user").await?, ADMIN_NAME);
        Ok(())
    })
    .await;
}

/// Whether every item of row `id`'s open actions menu can be seen and clicked: the element
/// at each item's middle is the item (the table's box neither clips nor covers it). The menu
/// floats over what is below it, so it may reach past the table's bottom edge.
const MENU_FITS: &str = r#"
const items = Array.from(document.querySelectorAll(arguments[0] + ' .menu-items > *'));
return items.length > 0 && items.every((el) => {
  el.scrollIntoView({ block: 'nearest' });
  const r = el.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return r.height > 0 && hit !== null && (hit === el || el.contains(hit));
});
"#;

pub async fn the_actions_menu_of_a_single_profile_is_not_clipped_by_the_table() {
    let app = TestApp::seeded().await;
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        for width in [1200, PHONE_WIDTH as u32] {
            b.client.set_window_size(width, 800).await?;
            let id = match row_or_none(&b).await? {
                Some(id) => id,
                None => create_profile(&b, &NewProfile::offline("Only_Profile")).await?,
            };
            b.goto(&format!("/t/{SLUG}/smtp")).await?;
            open_menu(&b, id).await?;
            let fits = b.client.execute(MENU_FITS, vec![serde_json::json!(row(id))]).await?;
            assert_eq!(fits, serde_json::json!(true), "menu items visible at {width} px");
        }
        Ok(())
    })
    .await;
}

async fn row_or_none(b: &Browser) -> anyhow::Result<Option<i64>> {
    b.goto(&format!("/t/{SLUG}/smtp")).await?;
    let id = b.attr_of("tr[data-profile-id]", "data-profile-id").await.ok().flatten();
    Ok(id.and_then(|v| v.parse().ok()))
}
