//! Many PDFs as one. typst holds every laid-out page of a document in memory until it is exported
//! (about 200 kB a sheet), so the batch files are exported a few dozen sheets at a time and the
//! parts, a few kB a page, are joined here: the pages in order, under one page tree.

use lopdf::{Document, Object, ObjectId};

/// Page attributes a page may inherit from its page tree nodes (ISO 32000-1, 7.7.3.4).
const INHERITED: [&[u8]; 4] = [b"Resources", b"MediaBox", b"CropBox", b"Rotate"];

/// Joins `first` and `rest` (PDF files) into one PDF with all their pages in order. `first`
/// gives the document's catalog and information; the others give only their pages and what
/// those use.
pub fn merge(first: &[u8], rest: &[Vec<u8>]) -> Result<Vec<u8>, lopdf::Error> {
    let mut merged = load(first)?;
    let mut kids: Vec<ObjectId> = merged.get_pages().into_values().collect();
    for bytes in rest {
        let mut part = load(bytes)?;
        part.renumber_objects_with(merged.max_id + 1);
        merged.max_id = part.max_id;
        kids.extend(part.get_pages().into_values());
        // The part's catalog and page tree come along unreferenced: pruned below.
        merged.objects.append(&mut part.objects);
    }
    let root: ObjectId = merged.catalog()?.get(b"Pages")?.as_reference()?;
    for &page in &kids {
        merged.get_dictionary_mut(page)?.set("Parent", root);
    }
    let tree = merged.get_dictionary_mut(root)?;
    tree.set("Count", kids.len() as i64);
    tree.set(
        "Kids",
        kids.into_iter().map(Object::Reference).collect::<Vec<_>>(),
    );
    for key in INHERITED {
        tree.remove(key);
    }
    merged.prune_objects();
    let mut out = Vec::new();
    merged.save_to(&mut out)?;
    Ok(out)
}

/// Reads one part, its pages given the attributes they inherited (they move under one flat page
/// tree).
fn load(bytes: &[u8]) -> Result<Document, lopdf::Error> {
    let mut part = Document::load_mem(bytes)?;
    for page in part.get_pages().into_values() {
        materialize(&mut part, page)?;
    }
    Ok(part)
}

/// Copies into `page` the inheritable attributes it lacks, from the nearest ancestor that has
/// them.
fn materialize(doc: &mut Document, page: ObjectId) -> Result<(), lopdf::Error> {
    let mut found = Vec::new();
    for key in INHERITED {
        if doc.get_dictionary(page)?.has(key) {
            continue;
        }
        let mut node = doc.get_dictionary(page)?.get(b"Parent").ok().cloned();
        // A page tree is shallow; the bound stops a malformed one that loops.
        for _ in 0..64 {
            let Some(Object::Reference(id)) = node else {
                break;
            };
            let dict = doc.get_dictionary(id)?;
            if let Ok(value) = dict.get(key) {
                found.push((key, value.clone()));
                break;
            }
            node = dict.get(b"Parent").ok().cloned();
        }
    }
    let dict = doc.get_dictionary_mut(page)?;
    for (key, value) in found {
        dict.set(key, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{Dictionary, Stream, dictionary};

    /// A PDF of `pages` pages whose page tree holds the MediaBox (inherited by its pages), each
    /// page's content naming it.
    fn part(name: &str, pages: usize) -> Vec<u8> {
        let mut doc = Document::with_version("1.7");
        let tree = doc.new_object_id();
        let kids: Vec<Object> = (0..pages)
            .map(|i| {
                let content = doc.add_object(Stream::new(
                    Dictionary::new(),
                    format!("% {name} page {i}").into_bytes(),
                ));
                doc.add_object(dictionary! {
                    "Type" => "Page", "Parent" => tree, "Contents" => content,
                })
                .into()
            })
            .collect();
        doc.objects.insert(
            tree,
            dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => pages as i64,
                "MediaBox" => vec![0.into(), 0.into(), 420.into(), 595.into()],
            }
            .into(),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => tree });
        doc.trailer.set("Root", catalog);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    fn contents(doc: &Document) -> Vec<String> {
        doc.get_pages()
            .into_values()
            .map(|page| {
                String::from_utf8(doc.get_page_content(page))
                    .unwrap()
                    .trim()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn the_pages_of_every_part_come_in_order_each_with_the_size_it_inherited() {
        let merged = merge(&part("a", 2), &[part("b", 1), part("c", 3)]).unwrap();
        let doc = Document::load_mem(&merged).unwrap();
        assert_eq!(
            contents(&doc),
            [
                "% a page 0",
                "% a page 1",
                "% b page 0",
                "% c page 0",
                "% c page 1",
                "% c page 2"
            ]
        );
        for page in doc.get_pages().into_values() {
            let media = doc.get_dictionary(page).unwrap().get(b"MediaBox").unwrap();
            assert_eq!(media.as_array().unwrap().len(), 4);
        }
        // Only one catalog and one page tree are left: the parts' own were pruned.
        let count = |kind: &[u8]| {
            doc.objects
                .values()
                .filter(|o| {
                    o.as_dict()
                        .and_then(|d| d.get(b"Type"))
                        .and_then(Object::as_name)
                        .is_ok_and(|n| n == kind)
                })
                .count()
        };
        assert_eq!((count(b"Catalog"), count(b"Pages")), (1, 1));
    }

    #[test]
    fn a_part_that_is_not_a_pdf_is_an_error_not_a_panic() {
        assert!(merge(&part("a", 1), &[b"%PDF-1.7 garbage".to_vec()]).is_err());
        assert!(merge(b"not a PDF", &[]).is_err());
    }
}
