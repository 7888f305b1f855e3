//! How the pages look on a phone and when a menu opens (issue 12's "Look"): at 360 px every
//! list is a stack of cards and the page never scrolls sideways, the header keeps to one
//! row, dates do not break, the roles explained stay in their column, and opening an
//! Actions menu moves no row.

use serde_json::{json, Value};

use crate::access::{fits, PHONE_WIDTH};
use crate::harness::*;
use crate::smtp_server::{TestSmtp, TlsMode};
use crate::steps::*;

/// What is wrong with table `arguments[0]` as a stack of cards: its head shown, a cell not
/// laid out as a block, a row wider than the window, a cell with text but no label shown
/// before it. Empty when it is a stack of cards.
const NOT_CARDS: &str = r#"
const table = document.querySelector(arguments[0]);
if (!table) return ["no table " + arguments[0]];
const rows = Array.from(table.querySelectorAll("tbody tr"));
if (rows.length === 0) return ["no rows in " + arguments[0]];
const wrong = [];
const head = table.querySelector("thead");
if (head && getComputedStyle(head).display !== "none") wrong.push("the column heads are shown");
for (const row of rows) {
  const r = row.getBoundingClientRect();
  if (r.left < -1 || r.right > window.innerWidth + 1) wrong.push("a row spans " + r.left + ".." + r.right);
  for (const cell of row.children) {
    const text = cell.textContent.trim().slice(0, 30);
    const display = getComputedStyle(cell).display;
    if (display !== "block" && display !== "none") wrong.push(cell.tagName + " '" + text + "' is " + display);
    const label = cell.dataset.label;
    if (cell.tagName === "TD" && !cell.classList.contains("actions") && text) {
      const before = getComputedStyle(cell, "::before").content;
      if (!label || before !== '"' + label + ': "') wrong.push("'" + text + "' shows no label (" + before + ")");
    }
  }
}
return wrong;
"#;

/// Whether the elements of `arguments[0]` (a list of selectors) that are shown all share
/// one row: some height is common to all of them.
const ONE_ROW: &str = r#"
const boxes = Array.from(document.querySelectorAll(arguments[0]))
  .map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0 && r.height > 0);
if (boxes.length < 2) return "only " + boxes.length + " shown";
const top = Math.max(...boxes.map((r) => r.top));
const bottom = Math.min(...boxes.map((r) => r.bottom));
return top < bottom ? true : "tops " + boxes.map((r) => Math.round(r.top)).join(", ");
"#;

/// The texts of `arguments[0]` that take more than one line.
const BROKEN_TEXTS: &str = r#"
return Array.from(document.querySelectorAll(arguments[0])).filter((e) => {
  if (!e.textContent.trim() || e.getBoundingClientRect().width === 0) return false;
  const range = document.createRange();
  range.selectNodeContents(e);
  const tops = new Set(Array.from(range.getClientRects()).filter((r) => r.width > 0).map((r) => Math.round(r.top)));
  return tops.size > 1;
}).map((e) => e.textContent.trim());
"#;

/// Each of `arguments[0]`'s boxes as [left, top, width, height] on the page (clicking may
/// scroll the window, which moves nothing on the page).
const BOXES: &str = r#"
return Array.from(document.querySelectorAll(arguments[0])).map((e) => {
  const r = e.getBoundingClientRect();
  return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];
});
"#;

/// The items of the open menu in `arguments[0]` that a person cannot see or click: the
/// element at an item's middle is not the item (something covers or clips it).
const HIDDEN_ITEMS: &str = r#"
const items = Array.from(document.querySelectorAll(arguments[0] + " details.menu[open] .menu-items > *"));
if (items.length === 0) return ["no open menu in " + arguments[0]];
return items.filter((item) => {
  item.scrollIntoView({ block: "nearest" });
  const r = item.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return !(r.width > 0 && r.height > 0 && hit && (item === hit || item.contains(hit)));
}).map((item) => item.textContent.trim());
"#;

async fn run(b: &Browser, script: &str, arg: &str) -> anyhow::Result<Value> {
    Ok(b.client.execute(script, vec![json!(arg)]).await?)
}

pub async fn cards(b: &Browser, table: &str) -> anyhow::Result<()> {
    let wrong = run(b, NOT_CARDS, table).await?;
    assert_eq!(wrong, json!([]), "{table} at {PHONE_WIDTH} px on {}", b.current_path().await?);
    Ok(())
}

async fn header_is_one_row(b: &Browser) -> anyhow::Result<()> {
    let path = b.current_path().await?;
    let top = run(b, ONE_ROW, ".topbar-inner > *, .topbar-inner .account > *").await?;
    assert_eq!(top, json!(true), "the header's names and Sign out on {path}");
    let sections = run(b, ONE_ROW, "nav.sections a").await?;
    assert_eq!(sections, json!(true), "the sections on {path}");
    // One row high: no taller than the brand's line and its padding.
    let heights = b
        .client
        .execute(
            "return [document.querySelector('.topbar-inner').getBoundingClientRect().height, \
             document.querySelector('.brand').getBoundingClientRect().height];",
            vec![],
        )
        .await?;
    let (bar, brand) = (heights[0].as_f64().unwrap_or(0.0), heights[1].as_f64().unwrap_or(0.0));
    assert!(bar < brand * 2.0 + 8.0, "the header is {bar}px high for a {brand}px line on {path}");
    Ok(())
}

async fn dates_do_not_break(b: &Browser, css: &str) -> anyhow::Result<()> {
    let broken = run(b, BROKEN_TEXTS, css).await?;
    assert_eq!(broken, json!([]), "dates broken over lines ({css}) on {}", b.current_path().await?);
    Ok(())
}

/// A test email through a real server, so the email log has a line and the profile list a
/// last test.
async fn send_test_email(b: &Browser, id: i64, server: &TestSmtp) -> anyhow::Result<()> {
    b.goto(&format!("/t/{SLUG}/smtp")).await?;
    open_dialog(b, id, "test").await?;
    b.click_and_load(&format!("{DIALOG} button[type=submit]")).await?;
    server.wait_for(1, 10).await;
    Ok(())
}

pub async fn every_list_is_a_stack_of_cards_on_a_360px_screen_and_the_header_one_row() {
    let server = TestSmtp::start(TlsMode::StartTls, smtp_login()).await;
    let app = TestApp::seeded().await;
    app.seed_tenant("globex", "Globex", "Hank", "hank@globex.test", "hank's long password").await;
    sqlx::query("UPDATE users SET is_operator = 1 WHERE email = ?").bind(ADMIN_EMAIL).execute(&app.db).await.unwrap();
    // Long names, where a header would wrap first.
    sqlx::query("UPDATE tenants SET name = 'Acme Widgets International Holdings' WHERE slug = ?")
        .bind(SLUG)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET display_name = 'Ada Augusta King, Countess of Lovelace' WHERE email = ?")
        .bind(ADMIN_EMAIL)
        .execute(&app.db)
        .await
        .unwrap();
    app.in_browser(|b| async move {
        b.client.set_window_size(PHONE_WIDTH as u32, 800).await?;
        b.sign_in_admin().await?;
        header_is_one_row(&b).await?;
        let office = create_profile(&b, &NewProfile::for_server("Office_Headquarters_Relay", &server)).await?;
        send_test_email(&b, office, &server).await?;
        b.goto(&format!("/t/{SLUG}/invitations")).await?;
        b.fill("#email", "grace.brewster.murray.hopper@example.test").await?;
        b.select("#role", "organizer").await?;
        b.click_and_load(SUBMIT).await?;

        let pages = [
            ("/smtp", "table.profiles", "tr[data-profile-id] .nowrap"),
            ("/email-log", "table#email-log", "#email-log .nowrap"),
            ("/audit", "table.audit", "table.audit td.when"),
            ("/members", "table.members", "table.members td[data-role]"),
            ("/invitations", "table.invitations", "table.invitations td.when"),
        ];
        for (page, table, dates) in pages {
            b.goto(&format!("/t/{SLUG}{page}")).await?;
            cards(&b, table).await?;
            fits(&b, page).await?;
            header_is_one_row(&b).await?;
            dates_do_not_break(&b, dates).await?;
        }
        b.goto("/admin").await?;
        cards(&b, "table.organizations").await?;
        fits(&b, "/admin").await?;
        header_is_one_row(&b).await?;
        dates_do_not_break(&b, "table.organizations td.when").await?;

        // The roles explained under the role choice stay in the field's column.
        b.goto(&format!("/t/{SLUG}/invitations")).await?;
        let inside = b
            .client
            .execute(
                "const f = document.querySelector('.field:has(.role-help)').getBoundingClientRect(); \
                 const l = document.querySelector('.role-help').getBoundingClientRect(); \
                 return l.left >= f.left - 1 && l.right <= f.right + 1;",
                vec![],
            )
            .await?;
        assert_eq!(inside, json!(true), "the role list stays in its column");
        Ok(())
    })
    .await;
}

/// Every row of `rows` keeps its place and size when the Actions menu of `menu_row` opens,
/// and every item of that menu can be seen and clicked.
async fn opening_moves_nothing(b: &Browser, rows: &str, menu_row: &str, width: u32) -> anyhow::Result<()> {
    let before = run(b, BOXES, rows).await?;
    assert!(before.as_array().is_some_and(|r| r.len() >= 2), "two rows or more in {rows}");
    b.click(&format!("{menu_row} details.menu > summary")).await?;
    b.wait_for(&format!("{menu_row} details.menu[open] .menu-items")).await?;
    let after = run(b, BOXES, rows).await?;
    assert_eq!(before, after, "{rows} at {width} px: the rows moved when the menu opened");
    assert_eq!(run(b, HIDDEN_ITEMS, menu_row).await?, json!([]), "{menu_row} at {width} px");
    Ok(())
}

pub async fn opening_an_actions_menu_moves_no_row() {
    let app = TestApp::seeded().await;
    app.in_browser(|b| async move {
        b.sign_in_admin().await?;
        let first = create_profile(&b, &NewProfile::offline("Office")).await?;
        create_profile(&b, &NewProfile::offline("Backup")).await?;
        let last = create_profile(&b, &NewProfile::offline("Spare")).await?;
        for width in [1200, PHONE_WIDTH as u32] {
            b.client.set_window_size(width, 800).await?;
            for id in [first, last] {
                b.goto(&format!("/t/{SLUG}/smtp")).await?;
                opening_moves_nothing(&b, "tr[data-profile-id]", &row(id), width).await?;
            }
            b.goto(&format!("/t/{SLUG}/members")).await?;
            let before = run(&b, BOXES, "tr[data-member-id], h1").await?;
            b.click("tr[data-member-id] details.menu > summary").await?;
            b.wait_for("tr[data-member-id] details.menu[open] .menu-items").await?;
            assert_eq!(before, run(&b, BOXES, "tr[data-member-id], h1").await?, "members at {width} px");
            assert_eq!(run(&b, HIDDEN_ITEMS, "tr[data-member-id]").await?, json!([]), "members at {width} px");
        }
        Ok(())
    })
    .await;
}
